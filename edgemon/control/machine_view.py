"""What the dashboard's control panels show and act on, as a feed reports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MachineView:
    """Controllable machine state for the dashboard (Jetson power mode, cores, clocks, fan).

    ``unavailable`` maps a control name (power_mode, cores, jetson_clocks, fan) to the
    reason it cannot be used here; a control absent from it is usable.
    """

    power_modes: list[dict[str, Any]] = field(default_factory=list)   # [{"id": 0, "name": "MAXN"}, ...]
    power_mode_id: int | None = None
    power_mode_name: str = ""
    cpu_count: int = 0
    online_cores: list[int] = field(default_factory=list)
    jetson_clocks: bool | None = None
    fan_pct: float | None = None
    recording: bool = False           # changes ask for confirmation while recording
    unavailable: dict[str, str] = field(default_factory=dict)
