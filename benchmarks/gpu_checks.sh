#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one go (README "Performance"): the NVML source against
# nvidia-smi idle and under `stress gpu`, the torch runner on CUDA in fp32 and fp16 (each
# session analysed), and the tests that skip without a CUDA device. Needs Python with PyTorch
# (CUDA build), numpy, pyarrow, psutil, rich, nvidia-ml-py and pytest; Textual is not needed.
#
#   bash benchmarks/gpu_checks.sh OUTDIR        # about 4 minutes; one file per check in OUTDIR
set -u
out="${1:?usage: gpu_checks.sh OUTDIR}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
tmp="$(mktemp -d)"
em() { timeout 300 "$py" -m edgemon "$@"; }

{ date -u; uname -a; nvidia-smi; "$py" -c 'import sys, torch, numpy, pyarrow; print(sys.version); print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0)); print("numpy", numpy.__version__, "pyarrow", pyarrow.__version__)'
  em info; } > "$out/gpu-env.txt" 2>&1

timeout 120 "$py" benchmarks/nvml_probe.py --seconds 10 --quiet > "$out/gpu-nvml_probe-idle.txt" 2>&1

# stress gpu for 45 s; the NVML source read against nvidia-smi while it burns
em run --headless --duration 45s --runner stress --model gpu --record "$tmp/stress" > "$out/gpu-stress.txt" 2>&1 &
stress=$!
sleep 12
timeout 120 "$py" benchmarks/nvml_probe.py --seconds 20 --quiet > "$out/gpu-nvml_probe-loaded.txt" 2>&1
wait "$stress"
echo "exit $?" >> "$out/gpu-stress.txt"
em analyze "$tmp/stress" >> "$out/gpu-stress.txt" 2>&1

for precision in fp32 fp16; do
  f="$out/gpu-torch-cuda-$precision.txt"
  em run --headless --duration 25s --runner torch --model resnet18 --opt device=cuda --opt "precision=$precision" \
    --record "$tmp/torch-$precision" > "$f" 2>&1
  echo "exit $?" >> "$f"
  em analyze "$tmp/torch-$precision" >> "$f" 2>&1
done

# The tests that skip without a CUDA device or the real nvidia-ml-py (no project config and no
# plugins but pytest-timeout: Textual's snapshot plugin need not be installed here).
PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 timeout 300 "$py" -m pytest -c /dev/null --rootdir . -p pytest_timeout \
  -p no:cacheprovider -q -rs \
  tests/test_runner_torch.py tests/test_nvml_source.py tests/test_runner_stress.py > "$out/gpu-pytest.txt" 2>&1
echo "exit $?" >> "$out/gpu-pytest.txt"
rm -rf "$tmp"
