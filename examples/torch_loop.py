"""A PyTorch inference loop timed with edgemon_probe.

    edgemon run --duration 5m -- python examples/torch_loop.py --batch 4
    EDGEMON_PROBE_SUMMARY=1 python examples/torch_loop.py --seconds 10

A small convolutional network (random weights, 3x64x64 input) under ``torch.inference_mode``:
a warm-up phase, then timed batches. On a GPU the timer must include the work, so the loop
synchronises before the block ends (CUDA runs asynchronously). Runs on JetPack's Python 3.6
with NVIDIA's PyTorch wheel.
"""

import argparse
import os
import sys

try:
    import edgemon_probe
except ImportError:  # run from a checkout without edgemon: the probe lives in runners/probe
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "runners", "probe"))
    import edgemon_probe

import torch
from torch import nn


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=3600.0, help="stop after this long (default: an hour)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10, help="warm-up batches")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    ).to(device).eval()
    x = torch.randn(args.batch, 3, 64, 64, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    edgemon_probe.event("model", device=str(device), torch=torch.__version__, batch=args.batch)
    with torch.inference_mode() if hasattr(torch, "inference_mode") else torch.no_grad():
        with edgemon_probe.phase("warmup"):
            for _ in range(args.warmup):
                with edgemon_probe.timed(items=args.batch):
                    model(x)
                    sync()
        end = edgemon_probe.now_ns() + int(args.seconds * 1e9)
        n = 0
        while edgemon_probe.now_ns() < end:
            with edgemon_probe.timed(items=args.batch):
                model(x)
                sync()
            n += 1
    print("torch_loop: %d batches of %d on %s" % (n, args.batch, device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
