"""Modal screens: help, confirmation, a one-line input, the power-mode picker and the cores screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from edgemon.control.machine_view import MachineView
from edgemon.view.analysis_text import EPISODE_COLUMNS, episode_rows, summary_lines

if TYPE_CHECKING:
    from edgemon.analysis.result import AnalysisResult


class HelpScreen(ModalScreen[None]):
    """All keys for this mode, then every source and control with its status and reason
    (unavailable ones first, with why). Scrolls (arrows, PgUp/PgDn, Home/End) where it does
    not fit, as at 80x24."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, keys: list[tuple[str, str]], sources: list[tuple[str, bool, str]]) -> None:
        super().__init__()
        self.keys = keys
        self.sources = sources

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("keys\n", style="bold underline")
        key_w = max((len(k) for k, _ in self.keys), default=0) + 2
        for key, what in self.keys:
            text.append(f"  {key:<{key_w}}", style="bold cyan")
            text.append(f"{what}\n")
        text.append("\nsources and controls (unavailable first)\n", style="bold underline")
        if not self.sources:
            text.append("  (none reported)\n", style="dim")
        name_w = max((len(n) for n, _, _ in self.sources), default=0) + 2
        for name, ok, why in sorted(self.sources, key=lambda s: s[1]):     # stable: n/a first
            text.append(f"  {name:<{name_w}}")
            text.append("ok " if ok else "n/a", style="green" if ok else "yellow")
            if why:
                text.append(f"  {why}", style="dim" if ok else "")
            text.append("\n")
        with Vertical(id="help-box", classes="modal-box"):
            with VerticalScroll(id="help-scroll"):
                yield Static(text, id="help-text")
            yield Static(Text("arrows/PgUp/PgDn scroll   Escape closes", style="dim"), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).focus()

    def action_dismiss(self) -> None:  # type: ignore[override]  # closes without a result, where Textual's takes one
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no question; y or Enter confirms, n or Escape cancels."""

    BINDINGS = [Binding("y,enter", "answer(True)", "yes"), Binding("n,escape", "answer(False)", "no")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="confirm-box"):
            yield Static(Text(self.question, style="bold"))
            yield Static(Text("y / Enter: yes     n / Escape: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class QuitScreen(ModalScreen["str | None"]):
    """Leaving a session that runs in its own process: detach (it goes on) or stop it."""

    BINDINGS = [Binding("d", "choose('detach')", "detach"), Binding("s", "choose('stop')", "stop"),
                Binding("escape", "choose('')", "stay")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="quit-box"):
            yield Static(Text("Leave the dashboard?", style="bold"))
            yield Static(Text("d: detach, the test goes on (edgemon attach brings it back)\n"
                              "s: stop the test\nEscape: stay"))

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)


class TextInputScreen(ModalScreen["str | None"]):
    """One line of input; ``validate`` returns an error message or None. Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, *, placeholder: str = "",
                 validate: Callable[[str], "str | None"] | None = None, blink: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.validate_fn = validate
        self.blink = blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="input-box"):
            yield Static(Text(self.title_text, style="bold"))
            field = Input(placeholder=self.placeholder, id="input")
            field.cursor_blink = self.blink
            yield field
            yield Static("", id="input-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        error = self.validate_fn(value) if self.validate_fn else None
        if error:
            self.query_one("#input-error", Static).update(Text(error, style="bold red"))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PowerModeScreen(ModalScreen["int | None"]):
    """The board's power modes; Enter picks one, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, machine: MachineView) -> None:
        super().__init__()
        self.machine = machine

    def compose(self) -> ComposeResult:
        options = []
        highlight = 0
        for i, mode in enumerate(self.machine.power_modes):
            current = mode.get("id") == self.machine.power_mode_id
            if current:
                highlight = i
            label = f"{mode.get('id')!s:>3}  {mode.get('name', '')}" + ("   (current)" if current else "")
            options.append(Option(label, id=str(mode.get("id"))))
        with Vertical(classes="modal-box", id="mode-box"):
            yield Static(Text("power mode (Enter selects, Escape cancels)", style="bold"))
            option_list = OptionList(*options, id="modes")
            option_list.highlighted = highlight if options else None
            yield option_list

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id) if event.option.id is not None else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CoresScreen(ModalScreen[None]):
    """Move over the cores with the arrows; space asks the app to toggle one (cpu0 stays on)."""

    BINDINGS = [Binding("escape,c", "close", "close"), Binding("space", "toggle", "toggle core")]

    def __init__(self, machine: MachineView, request: Callable[[int, bool], None]) -> None:
        super().__init__()
        self.machine = machine
        self.request = request
        self._shown = (list(machine.online_cores), machine.cpu_count)  # a feed may mutate its view in place

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="cores-box"):
            yield Static(Text("cores (arrows move, space toggles, Escape closes)", style="bold"))
            yield OptionList(*self._options(), id="cores")

    def _options(self) -> list[Option]:
        online = set(self.machine.online_cores)
        out = []
        for cpu in range(self.machine.cpu_count):
            state = Text("online ", style="green") if cpu in online else Text("offline", style="dim")
            label = Text(f"cpu{cpu:<3} ").append_text(state)
            if cpu == 0:
                label.append("  (cannot be taken offline)", style="dim")
            out.append(Option(label, id=str(cpu)))
        return out

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        option_list.highlighted = 0 if self.machine.cpu_count else None
        option_list.focus()

    def update_machine(self, machine: MachineView) -> None:
        """Redraw after a toggle went through (the app calls this on each poll)."""
        shown = (list(machine.online_cores), machine.cpu_count)
        if shown == self._shown:
            return
        self.machine, self._shown = machine, shown
        option_list = self.query_one(OptionList)
        highlighted = option_list.highlighted
        option_list.clear_options()
        option_list.add_options(self._options())
        option_list.highlighted = highlighted

    def action_toggle(self) -> None:  # type: ignore[override]  # the cores screen's key, not DOMNode's class toggle
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is None:
            return
        cpu = highlighted
        if cpu == 0:
            self.notify("cpu0 cannot be taken offline", severity="warning")
            return
        self.request(cpu, cpu not in self.machine.online_cores)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_toggle()   # Enter works like space

    def action_close(self) -> None:
        self.dismiss(None)


LINE_STYLES = {"head": "bold underline", "text": "", "note": "yellow"}
STATE_TEXT = {
    "waiting": "reading the recording's latency rows ...",
    "running": "analysing the recording (latency statistics, throttling, levels, energy) ...",
    "off": "analysis is off for this replay",
}


class AnalysisScreen(ModalScreen["float | None"]):
    """The analysis of the whole recording (``edgemon analyze`` in the dashboard). Enter on a
    throttling episode closes the screen and returns its start (seconds from the start)."""

    BINDINGS = [Binding("escape,a,q", "close", "close")]

    def __init__(self, result: AnalysisResult | None, state: str, error: str = "",
                 starts: list[float] | None = None) -> None:
        super().__init__()
        self.result, self.state, self.error = result, state, error
        self.starts = list(starts or [])

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="analysis-box"):
            yield Static(Text("analysis of the whole recording", style="bold"), id="analysis-title")
            with VerticalScroll(id="analysis-scroll"):
                yield Static(self._summary(), id="analysis-text")
            yield DataTable(id="episodes", cursor_type="row", show_cursor=True)
            yield Static(Text("Enter: jump to the episode   Escape: close", style="dim"), id="analysis-keys")

    def on_mount(self) -> None:
        self._fill()
        self.query_one(DataTable).focus()

    def _summary(self) -> Text:
        if self.result is None:
            text = self.error if self.state == "failed" else STATE_TEXT.get(self.state, self.state)
            return Text(text or "no analysis", style="yellow" if self.state == "failed" else "dim")
        out = Text()
        for i, (kind, line) in enumerate(summary_lines(self.result)):
            if i:
                out.append("\n")
            out.append(line, style=LINE_STYLES.get(kind, ""))
        return out

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        if not table.columns:        # the analysis may arrive before on_mount ran
            table.add_columns(*EPISODE_COLUMNS)
        table.clear()
        rows = episode_rows(self.result) if self.result is not None else []
        for row in rows:
            table.add_row(*row)
        table.display = bool(rows)

    def update_analysis(self, result: AnalysisResult | None, state: str, error: str = "",
                        starts: list[float] | None = None) -> None:
        """The app calls this on each poll; redraws once, when the analysis arrives."""
        if result is self.result and state == self.state:
            return
        self.result, self.state, self.error = result, state, error
        self.starts = list(starts or [])
        self.query_one("#analysis-text", Static).update(self._summary())
        self._fill()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = event.cursor_row
        if 0 <= row < len(self.starts):
            self.dismiss(self.starts[row])

    def action_close(self) -> None:
        self.dismiss(None)
