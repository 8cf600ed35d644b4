"""Errors that reach the user as one line and exit code 2, never as a traceback."""


class UserError(Exception):
    """A mistake in what the user asked for (bad option, missing file, not a recording).

    The CLI prints ``edgemon: <message>`` and exits with ``exit_code``.
    Messages say what is wrong and what to do, in one line.
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
