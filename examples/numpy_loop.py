"""A plain numpy inference loop timed with edgemon_probe (standard library + numpy).

    edgemon run --duration 2m -- python examples/numpy_loop.py          # recorded by edgemon
    EDGEMON_PROBE_SUMMARY=1 python examples/numpy_loop.py --seconds 5   # alone, a summary at exit

A two-layer dense network (784 -> 512 relu -> 10 softmax, random weights), batch 8: a warm-up
phase (flagged, left out of statistics), then timed batches until --seconds have passed, with an
event every 1000 batches. Runs on Python 3.6 too.
"""

import argparse
import itertools
import os
import sys

try:
    import edgemon_probe
except ImportError:  # run from a checkout without edgemon: the probe lives in runners/probe
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "runners", "probe"))
    import edgemon_probe

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3600.0, help="stop after this long (default: an hour)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=50, help="warm-up batches")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0) if hasattr(np.random, "default_rng") else np.random.RandomState(0)
    w1 = rng.standard_normal((784, 512)).astype(np.float32) * 0.05
    w2 = rng.standard_normal((512, 10)).astype(np.float32) * 0.05
    x = rng.standard_normal((args.batch, 784)).astype(np.float32)

    def model(batch):
        h = np.maximum(batch @ w1, 0.0)
        z = h @ w2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    with edgemon_probe.phase("warmup"):             # these rows are flagged warm-up
        for _ in range(args.warmup):
            with edgemon_probe.timed(items=args.batch):
                model(x)
    end = edgemon_probe.now_ns() + int(args.seconds * 1e9)
    n = 0
    # loop() times each pass of the body (the cheapest form: well under a microsecond)
    for n in edgemon_probe.loop(itertools.count(1), items=args.batch):
        model(x)
        if n % 1000 == 0:
            edgemon_probe.event("progress", batches=n)
        if n % 64 == 0 and edgemon_probe.now_ns() >= end:
            break
    print("numpy_loop: %d batches of %d" % (n, args.batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
