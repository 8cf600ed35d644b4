"""Jetson / accelerator panel: GPU, power, EMC, power mode, cores, jetson_clocks, fan, rails.

Shown only when such metrics (or Jetson controls) exist. Lines come in priority
order and the panel keeps as many as fit.
"""

from __future__ import annotations

from rich.text import Text

from edgemon.tui.glyphs import truncate
from edgemon.tui.widgets.base import Panel, ViewState, gauge, level_style
from edgemon.view import fmt
from edgemon.view import meta as session_meta
from edgemon.view.metric_groups import fans, rails
from edgemon.view.throttle import clock_ceiling


def compress_ranges(ids: list[int]) -> str:
    """``[0, 1, 2, 3, 6]`` -> ``0-3,6``."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(ids):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


class JetsonPanel(Panel):
    TITLE = "jetson"

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        v = view.model.latest
        machine = view.machine
        jetson = machine is not None or session_meta.is_jetson(view.meta)
        self.set_titles(title="jetson" if jetson else "gpu / power")
        lines: list[Text] = []
        for name, util_key, freq_key in (("gpu", "gpu_util_pct", "gpu_freq_mhz"),
                                         ("emc", "emc_util_pct", "emc_freq_mhz")):
            util, freq = v.get(util_key), v.get(freq_key)
            if util is None and freq is None:
                continue
            line = Text()
            clock, style = "", ""
            if freq is not None:    # the clock against the ceiling of the current power mode
                ceiling = clock_ceiling(freq_key, view.meta, view.model)
                clock = f" {freq:.0f}/{ceiling:.0f}M" if ceiling is not None and width >= 22 else f" {freq:4.0f}MHz"
                if ceiling is not None and freq < ceiling * 0.99:
                    style = "bold red" if name in view.model.throttled else "yellow"
            gauge(line, name, (util or 0.0) / 100.0, width - len(clock), view.ascii, level_style((util or 0) / 100.0),
                  f"{util:3.0f}%" if util is not None else "  -")
            line.append(clock, style=style)
            lines.append(line)
        all_rails = rails(v)
        total = next((r for r in all_rails if r.name == "total"), None)
        if total is not None:
            line = Text("power ")
            line.append(fmt.watts(total.mw), style="bold yellow")
            if total.avg_mw is not None:
                line.append(f" avg {fmt.watts(total.avg_mw)}", style="dim")
            lines.insert(1 if lines else 0, line)
        if machine is not None:
            line = Text("mode ")
            name = machine.power_mode_name or "?"
            mode_id = "" if machine.power_mode_id is None else f"{machine.power_mode_id} "
            line.append(f"{mode_id}{name}", style="bold")
            clocks = {True: "on", False: "off", None: "?"}[machine.jetson_clocks]
            line.append(f"  clocks {clocks}", style="bold green" if machine.jetson_clocks else "")
            lines.append(line)
            if machine.cpu_count:
                lines.append(Text(f"cores {compress_ranges(machine.online_cores)} of {machine.cpu_count} online"))
        elif view.meta.get("power_mode"):
            lines.append(Text(f"mode {view.meta.get('power_mode')}"))
        for fan in fans(v):
            text = f"fan{fan.index} " + (f"{fan.pwm_pct:.0f}%" if fan.pwm_pct is not None else "-")
            if fan.rpm is not None:
                text += f" {fan.rpm:.0f} rpm"
            lines.append(Text(text))
        if machine is None and not fans(v) and total is None and not lines:
            lines.append(Text("no accelerator data", style="dim"))
        for rail in all_rails:
            if rail.name == "total":
                continue
            line = Text(f"{rail.name} ")
            line.append(fmt.watts(rail.mw))
            if rail.avg_mw is not None:
                line.append(f" avg {fmt.watts(rail.avg_mw)}", style="dim")
            lines.append(line)
        out = Text()
        for i, line in enumerate(lines[:max(height, 1)]):
            if i:
                out.append("\n")
            truncate(line, width, view.ascii)
            out.append_text(line)
        return out
