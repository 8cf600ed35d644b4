"""`edgemon models`: the built-in models of each runner. Standard library only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("models", help="built-in models and --opt keys per runner",
                       description="Built-in models with input shape, parameters and GFLOPs, and each "
                       "runner's --opt keys with their defaults.",
                       epilog="examples:\n"
                       "  edgemon models                   # every runner's models\n"
                       "  edgemon models --runner openvino # its models and --opt keys with defaults",
                       formatter_class=HelpFormatter)
    p.add_argument("--runner", default=None, help="only this runner")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def run(args: argparse.Namespace) -> int:
    import json

    from edgemon.workload.registry import list_runners, models_for, option_defaults, options_for, runner_module

    if args.runner:
        runner_module(args.runner)      # an unknown runner: one line naming the known ones
    runners = [args.runner] if args.runner else list_runners()
    table = {}
    options = {}
    for name in runners:
        table[name] = models_for(name)
        defaults = option_defaults(name)
        options[name] = {key: {"default": defaults.get(key, "-"), "help": text}
                         for key, text in (options_for(name) or {}).items()}
    if args.json:
        if args.runner:     # one runner: its models and its --opt keys
            print(json.dumps({"runner": args.runner, "models": table[args.runner], "options": options[args.runner]},
                             indent=2, default=str))
        else:
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
        if args.runner:
            print(f"  --opt keys (edgemon run --runner {name} --opt KEY=VALUE):")
            if not options[name]:
                print("    (none)")
            width = max((len(k) for k in options[name]), default=0)
            dwidth = max((len(o["default"]) for o in options[name].values()), default=0)
            for key, o in options[name].items():
                print(f"    {key:<{width}}  default {o['default']:<{dwidth}}  {o['help']}")
    return 0
