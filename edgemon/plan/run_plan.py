"""The run plan: what :class:`edgemon.plan.runner.PlanRunner` executes, typed.

Built in one place: :meth:`RunPlan.single` for ``edgemon run --repetitions N`` and
:meth:`edgemon.plan.profile.Profile.to_plan` for a profile both make a :class:`RunPlan`. It
travels as its JSON object (``RunConfig.plan``, so a detached session process gets it;
``session.json["profile"]``, so the recording says what was planned): ``RunPlan.from_dict(d)
.to_dict() == d`` (see :mod:`edgemon.records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgemon.records import Record, many, one
from edgemon.records import value as member   # not `value`: Action has a field of that name

DEFAULT_COOLDOWN_TIMEOUT_S = 1800.0
DEFAULT_IDLE_CPU_PCT = 10.0


@dataclass
class Action(Record):
    """One machine change: ``power_mode`` (id or name), ``cores`` (list), ``jetson_clocks`` (bool),
    ``fan`` (percent) or ``mark`` (note). ``key``/``where`` point back into the profile."""

    action: str = member("power_mode, cores, jetson_clocks, fan or mark")
    value: Any = member("the mode id or name, the cores online, on/off, the fan percent or the note",
                       nullable=True)
    at_s: float = member("seconds after the repetition's start (schedule entries)", 0.0)
    key: str = member('where in the profile, e.g. "schedule[2]"', "")
    where: str = member('file and line, e.g. "profiles/x.toml:14"', "")


@dataclass
class Cooldown(Record):
    """Wait before a repetition until the machine has cooled down and/or idled."""

    metric: str | None = member("wait until this metric is below below_c...", nullable=True)
    below_c: float | None = member("...this temperature", nullable=True)
    idle_s: float | None = member("...and/or until cpu_util_pct < idle_cpu_pct for this long", nullable=True)
    idle_cpu_pct: float = member("what counts as idle", DEFAULT_IDLE_CPU_PCT)
    timeout_s: float = member("give up after this long", DEFAULT_COOLDOWN_TIMEOUT_S)
    on_timeout: str = member('"continue" or "stop"', "continue")
    every_repetition: bool = member("before every repetition, not only the first", False)


@dataclass
class PlanItem(Record):
    """One workload with its repetitions and the settings applied before it."""

    label: str = member("how tables name it: runner/model or the profile's label", "")
    workload: dict[str, Any] = member("WorkloadSpec fields (runner, model, batch, options, ...)")
    repetitions: int = member("fresh workers in a row", 1)
    duration_s: float | None = member("of each repetition; null: until the worker ends", nullable=True)
    setup: list[Action] = many(Action, "applied before each repetition", empty=True)
    key: str = member("where in the profile", "workload")


@dataclass
class RunPlan(Record):
    """Repetitions of one or more workloads, cool-down, idle baseline, rests and a schedule."""

    source: str | None = member("the profile file; null for --repetitions", nullable=True)
    name: str = member("the profile's name", "")
    board: str | None = member("the board the profile targets", nullable=True)
    items: list[PlanItem] = many(PlanItem, "the workloads, in order", empty=True)
    rest_s: float = member("pause between repetitions", 0.0)
    cooldown: Cooldown | None = one(Cooldown, "before the first (or every) repetition; null: none", nullable=True)
    idle_baseline_s: float | None = member("idle power measured this long before the first repetition",
                                          nullable=True)
    schedule: list[Action] = many(Action, "changes at times within each repetition", empty=True)
    time_scale: float | None = member("every length and time above was multiplied by this (--time-scale: "
                                      "a rehearsal); absent for a real run")

    @classmethod
    def single(cls, workload: dict[str, Any], *, repetitions: int, duration_s: float | None) -> RunPlan:
        """The plan of ``edgemon run --repetitions N`` without a profile: N fresh workers in a row."""
        return cls(items=[PlanItem(label=f"{workload['runner']}/{workload['model']}", workload=workload,
                                   repetitions=int(repetitions), duration_s=duration_s)])

    @classmethod
    def of(cls, plan: RunPlan | dict[str, Any]) -> RunPlan:
        """``plan`` typed (the JSON object as it travels in ``RunConfig.plan``, or already a RunPlan)."""
        return plan if isinstance(plan, RunPlan) else cls.from_dict(plan)

    def actions(self) -> list[Action]:
        """The schedule and every item's setup."""
        return list(self.schedule) + [a for item in self.items for a in item.setup]
