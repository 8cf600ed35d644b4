"""Where generated model files live, and how they get there without a torn file.

The cache folder is ``$EDGEMON_CACHE`` if set, else ``$XDG_CACHE_HOME/edgemon/models``
(``~/.cache/edgemon/models``). Files are made on first use by the runner that needs
them (or ahead of time by ``scripts/make_models.py``) and written under a temporary
name, then renamed, so two runners starting together never read half a file.

Standard library only (Python 3.6+). The monitor uses this same module through
``edgemon.workload.model_cache``.
"""

import os

ENV = "EDGEMON_CACHE"


def cache_root():
    folder = os.environ.get(ENV)
    if folder:
        return os.path.abspath(os.path.expanduser(folder))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "edgemon", "models")


def model_path(fmt, filename, root=None):
    return os.path.join(root or cache_root(), fmt, filename)


def cached(fmt, filename, write, companions=(), root=None):
    """Path of ``fmt/filename`` in the cache, calling ``write(tmp_path)`` first if it is missing.

    ``write`` writes ``tmp_path`` and, for formats made of several files, files with
    the same stem and the suffixes in ``companions`` (OpenVINO IR: ``.bin``). The
    companions are renamed into place before the main file, whose presence means
    "complete".
    """
    path = model_path(fmt, filename, root)
    if os.path.isfile(path):
        return path
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder)
    except OSError:
        if not os.path.isdir(folder):
            raise
    stem, ext = os.path.splitext(path)
    tmp_stem = "%s.tmp%d" % (stem, os.getpid())
    try:
        write(tmp_stem + ext)
        for suffix in companions:
            os.replace(tmp_stem + suffix, stem + suffix)
        os.replace(tmp_stem + ext, path)
    finally:
        for suffix in (ext,) + tuple(companions):
            if os.path.exists(tmp_stem + suffix):
                os.remove(tmp_stem + suffix)
    return path
