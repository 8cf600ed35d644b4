"""Two header lines: who/what/state/time, then recording path, replay position or the alarm."""

from __future__ import annotations

from rich.text import Text

from edgemon.tui.glyphs import frame_chars, truncate
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.tui.widgets.timeline import CAUSE_STYLES
from edgemon.view import fmt
from edgemon.view import meta as session_meta
from edgemon.view.throttle import ThrottleFlag, throttle_flag

STATE_STYLES = {
    "running": "bold green", "starting": "bold cyan", "paused": "bold yellow",
    "ended": "bold blue", "crashed": "bold white on red", "replay": "bold magenta",
}


def flag_style(cause: str) -> str:
    """A badge in the cause's colour (the timeline strip's), readable on it."""
    colour = CAUSE_STYLES.get(cause, "yellow")
    text = "white" if colour in ("red", "magenta", "dark_orange") else "black"
    return f"bold {text} on {colour}"


class Header(Panel):
    DEFAULT_CLASSES = ""

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        g = frame_chars(view.ascii)
        flag = None if view.is_replay else throttle_flag(view.model)
        line = self._first_line(view, g, with_what=True, flag=flag)
        moved = len(line) > width
        if moved:   # state, time and flags matter more on line one; runner/model move to line two
            for form in range(3 if flag is not None else 1):    # then the flag gets shorter
                line = self._first_line(view, g, with_what=False, flag=flag, form=form)
                if len(line) <= width:
                    break
        truncate(line, width, view.ascii)
        if height < 2:
            return line
        return Text("\n").join([line, self._second_line(view, width, g, moved, flag)])

    def _first_line(self, view: ViewState, g: dict[str, str], with_what: bool, flag: ThrottleFlag | None = None,
                    form: int = 0) -> Text:
        meta, status, model = view.meta, view.status, view.model
        sep = f" {g['sep']} "
        line = Text()
        line.append(" edgemon ", style="bold reverse")
        if meta.get("emulated"):  # first, so it survives truncation on narrow terminals
            line.append(" EMULATED ", style="bold black on yellow")
        line.append(" ")
        line.append(session_meta.host(meta), style="bold")
        what = session_meta.workload(meta)
        if what and with_what:
            line.append(sep + what)
        line.append(sep)
        state = status.state
        if model.crash is not None and state not in ("replay", "crashed"):
            state = f"{state} (worker crashed)"
        line.append(f"{g['dot']} {state}", style=STATE_STYLES.get(status.state, "bold"))
        if not view.is_replay:
            line.append(f" {fmt.clock(status.elapsed_s)}")
            if status.remaining_s is not None:
                line.append(f" / {fmt.clock(status.remaining_s)} left", style="dim")
        if flag is not None:
            line.append(" ")
            line.append(f" {flag.forms[form]} ", style=flag_style(flag.cause))
        return line

    def _second_line(self, view: ViewState, width: int, g: dict[str, str], with_what: bool = False,
                     flag: ThrottleFlag | None = None) -> Text:
        status, model = view.status, view.model
        line = Text(" ")
        if view.feed_error:
            line.append(f"{g['cross']} feed error: {view.feed_error}", style="bold red")
            truncate(line, width, view.ascii)
            return line
        crash_text = status.message or (
            fmt.event_summary(model.crash.kind, model.crash.details) if model.crash is not None else "")
        if model.crash is not None or status.state == "crashed":
            line.append(f"{g['cross']} {crash_text}", style="bold red")
            line.append(" - dashboard still up, controls off, q quits" if status.state == "crashed"
                        else " - dashboard still up, q quits", style="red")
        elif status.state == "ended" and not view.is_replay:    # the session's keys are disabled now
            line.append("session ended" + (f": {status.message}" if status.message else ""), style="bold blue")
            line.append(" - controls off, q quits", style="blue")
            if view.meta.get("record_path"):
                line.append(f" {g['sep']} rec {view.meta['record_path']}", style="dim")
        elif view.is_replay:
            icon = g["play"] if status.playing else g["pause"]
            line.append(f"{icon} {status.speed:g}x ", style="bold magenta")
            tail = f" {fmt.clock(status.position_s)} / {fmt.clock(status.length_s)}"
            if view.timeline is not None:   # the timeline strip below is the progress bar
                line.append(tail.lstrip())
                line.append_text(self._replay_context(view, g))
            else:
                track_w = max(0, min(60, width - len(line) - len(tail) - 2))
                frac = status.position_s / status.length_s if status.length_s > 0 else 0.0
                done = int(round(min(max(frac, 0.0), 1.0) * max(track_w - 1, 0)))
                line.append(g["done"] * done, style="magenta")
                line.append(g["head"], style="bold magenta")
                line.append(g["track"] * max(0, track_w - done - 1), style="grey50")
                line.append(tail)
        else:
            if status.message:
                line.append(status.message, style="bold yellow")
                line.append("  ")
            if flag is not None:    # the deepest episode: clock against ceiling, since when, why
                line.append(flag.detail, style=f"bold {CAUSE_STYLES.get(flag.cause, 'yellow')}")
                line.append(f" {g['sep']} ")
            what = session_meta.workload(view.meta)
            if with_what and what:
                line.append(what + f" {g['sep']} ")
            path = view.meta.get("record_path")
            note, level = status.recording, status.recording_level
            if level == "fail":   # the recording stopped: say so first, where it cannot be missed
                line.append(f"{g['cross']} {note}", style="bold white on red")
                line.append(" ")
                if path:
                    line.append(str(path), style="dim")
            elif path:
                if level == "warn":    # low disk: before the path, so a narrow terminal keeps it
                    line.append(note, style="bold black on yellow")
                    line.append(" ")
                line.append("rec ", style="bold red")
                line.append(str(path), style="dim")
                if note and level != "warn":
                    line.append(f" {g['sep']} ")
                    line.append(note, style="dim")
            else:
                line.append("not recording", style="dim")
        truncate(line, width, view.ascii)
        return line

    @staticmethod
    def _replay_context(view: ViewState, g: dict[str, str]) -> Text:
        """What the playhead is in: a throttling episode, else how many there are (or that the
        analysis is still running)."""
        timeline, status = view.timeline, view.status
        out = Text(f" {g['sep']} ")
        episode = timeline.episode_at(status.position_s) if timeline is not None else None
        if "loading" in status.message:
            out.append("loading latency ...", style="dim")
        elif episode is not None:
            out.append(episode.describe(), style=f"bold {CAUSE_STYLES.get(episode.cause, 'yellow')}")
        elif timeline is None or timeline.state == "analysing":
            out.append("analysing ...", style="dim")
        elif timeline.state == "unavailable":
            out.append(timeline.note or "no throttling analysis", style="dim")
        else:
            n = len(timeline.episodes)
            out.append(f"{n} throttling episode{'s' if n != 1 else ''}" + (" (t/T jump)" if n else ""), style="dim")
        if status.message == "end of recording":
            out.append(f" {g['sep']} end of recording", style="bold")
        return out
