"""`edgemon models`: the built-in models of each runner. Standard library only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("models", help="built-in models per runner",
                       description="Built-in models with input shape, parameters and GFLOPs.",
                       formatter_class=HelpFormatter)
    p.add_argument("--runner", default=None, help="only this runner")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def run(args: argparse.Namespace) -> int:
    import json

    from edgemon.workload.registry import list_runners, models_for

    runners = [args.runner] if args.runner else list_runners()
    table = {}
    for name in runners:
        table[name] = models_for(name)
    if args.json:
        print(json.dumps(table, indent=2, default=str))
        return 0
    for name, models in table.items():
        print(f"{name}:")
        if not models:
            print("  (no built-in models)")
        for model, m in models.items():
            shape = "x".join(str(s) for s in m.get("input_shape", ()))
            params = m.get("params")
            gflops = m.get("gflops")
            print(f"  {model:<18} input {shape:<14} params {params if params is not None else '-':>10}"
                  f"  GFLOPs {gflops if gflops is not None else '-':>8}  {m.get('description', '')}")
    return 0
