#!/usr/bin/env python3
"""Write edgemon's built-in models as model files: TFLite, OpenVINO IR and ONNX.

Runners make these on first use; this makes them ahead of time, or into a folder
you copy to a board whose runtime cannot write them (tflite_runtime on a Coral or a
Raspberry Pi ships no flatbuffer schema):

    scripts/make_models.py                                   # everything, into the cache
    scripts/make_models.py --formats tflite --quant int8 --models mobilenet_v1,mnist_2d
    scripts/make_models.py --out /tmp/models                 # then EDGEMON_CACHE=/tmp/models on the board

Needs: ai-edge-litert or tensorflow (TFLite), openvino (IR), onnx (ONNX). A format
whose package is missing is reported and skipped. Exit code 1 if anything failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout, not installed

from edgemon.errors import UserError  # noqa: E402 - after the sys.path line
from edgemon.workload import model_cache  # noqa: E402 - after the sys.path line


def _list(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--formats", help=f"comma list of {', '.join(model_cache.FORMATS)} (default: all)")
    p.add_argument("--models", help="comma list of built-in models (default: all)")
    p.add_argument("--quant", help="TFLite variants: float32,int8,uint8 (default: all)")
    p.add_argument("--out", help=f"folder (default: the cache, {model_cache.cache_dir()})")
    p.add_argument("--seed", type=int, default=0, help="random weights seed (default 0, as the runners)")
    p.add_argument("--list", action="store_true", help="list the files already in the cache (or --out) and exit")
    args = p.parse_args(argv)
    if args.list:
        for path in model_cache.cached_files(Path(args.out) if args.out else None):
            print(path)
        return 0
    try:
        made = model_cache.make(_list(args.formats), _list(args.models), args.out, args.seed, _list(args.quant))
    except UserError as exc:
        print(f"make_models: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for m in made:
        label = f"{m.format:<9} {m.model:<18} {m.variant:<8}"
        if m.ok:
            print(f"ok     {label} {m.path}")
        else:
            failed += 1
            print(f"FAILED {label} {m.error}")
    print(f"{len(made) - failed} file(s) ready, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
