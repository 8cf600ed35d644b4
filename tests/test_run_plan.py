"""The run plan as dataclasses, built in one place: the JSON object it travels as is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemon.plan.profile import load_profile
from edgemon.plan.run_plan import Action, Cooldown, RunPlan
from edgemon.plan.runner import simple_plan

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO / "profiles").glob("*.toml"))


def test_simple_plan_is_the_json_it_always_was():
    plan = simple_plan({"runner": "numpy", "model": "mnist_1d"}, repetitions=3, duration_s=2.0)
    assert plan == {"source": None, "name": "", "board": None, "rest_s": 0.0, "cooldown": None,
                    "idle_baseline_s": None, "schedule": [],
                    "items": [{"label": "numpy/mnist_1d", "workload": {"runner": "numpy", "model": "mnist_1d"},
                               "repetitions": 3, "duration_s": 2.0, "setup": [], "key": "workload"}]}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_profile_plans_round_trip(path):
    plan = load_profile(path).to_plan()
    typed = RunPlan.from_dict(plan)
    assert typed.to_dict() == plan
    assert all(isinstance(a, Action) for a in typed.actions())
    assert typed.cooldown is None or isinstance(typed.cooldown, Cooldown)
    assert set(plan) == {"source", "name", "board", "items", "rest_s", "cooldown", "idle_baseline_s", "schedule"}
    if typed.cooldown is not None:
        assert set(plan["cooldown"]) == {"metric", "below_c", "idle_s", "idle_cpu_pct", "timeout_s", "on_timeout",
                                         "every_repetition"}
    for item in plan["items"]:
        assert set(item) == {"label", "workload", "repetitions", "duration_s", "setup", "key"}
        for a in item["setup"]:
            assert set(a) == {"action", "value", "at_s", "key", "where"}


def test_a_plan_with_a_cooldown_and_a_schedule():
    plan = RunPlan.single({"runner": "numpy", "model": "m"}, repetitions=2, duration_s=10.0)
    plan.cooldown = Cooldown(metric="temp_cpu_c", below_c=45.0)
    plan.schedule = [Action("power_mode", 1, at_s=5.0, key="schedule[1]", where="x.toml:3")]
    d = plan.to_dict()
    assert d["cooldown"]["idle_s"] is None and d["cooldown"]["timeout_s"] == 1800.0
    assert d["schedule"] == [{"action": "power_mode", "value": 1, "at_s": 5.0, "key": "schedule[1]",
                              "where": "x.toml:3"}]
    assert RunPlan.of(d).to_dict() == d and RunPlan.of(plan) is plan
