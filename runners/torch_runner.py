"""PyTorch runner: built-in models with random weights, or your TorchScript / exported program.

    python torch_runner.py --model resnet18 --batch 1 --threads 1 [--opt key=value ...]
    python torch_runner.py --model my_model.pt --opt input_shape=1x3x224x224
    python torch_runner.py --list-models

Built-in models: study 000's eight Keras workloads rebuilt in PyTorch, MobileNetV2,
ResNet-18 and ResNet-50 (see _torch_models.py). A ``--model`` that names an existing
file is loaded with ``torch.export.load`` (``.pt2``) or ``torch.jit.load`` (anything else,
with torch.export.load as the fallback).

Options (--opt key=value):
    device=cpu|cuda|cuda:N   where the model runs (default cpu)
    precision=fp32|fp16      weights and float inputs (default fp32)
    input_shape=AxBxC[,..]   user models: input shape(s); the first dimension is the batch and
                             is replaced by --batch (exported programs: read from the program)
    dtype=NAME[,..]          user models: input dtype(s), default float32
    transfer=1|0             CUDA: 1 (default) times host->device input copy + model +
                             device->host output copy, as trtexec "Latency"; 0 keeps the input on
                             the device and times model + synchronise

Timing: one iteration = one forward of the whole batch under torch.inference_mode(); on
CUDA the timer stops after torch.cuda.synchronize(). fp16 on CPU is tried once at build
(some PyTorch builds lack Half CPU kernels); if it fails, the run is an error result
that says so.
"""

import os
import sys

if __package__:
    from . import _common
    from . import _model_files
    from . import _torch_models
else:  # started as a script
    import _common
    import _model_files
    import _torch_models

RUNNER = "torch"
ACCEPTS_MODEL_FILES = True
MISSING = ("PyTorch is not installed: pip install torch (CPU only: pip install torch "
           "--index-url https://download.pytorch.org/whl/cpu; Jetson: NVIDIA's wheel for your JetPack)")

MODELS = _torch_models.CATALOGUE

OPTIONS = {
    "device": "cpu, cuda or cuda:N",
    "precision": "fp32 or fp16",
    "input_shape": "user models: input shape(s) like 1x3x224x224[,1x10]; the first dimension becomes --batch",
    "dtype": "user models: input dtype(s) like float32[,int64]",
    "transfer": "CUDA only: 1 times input/output copies with the model, 0 keeps the input on the GPU",
}
# What each option is when not given (`edgemon models --runner torch` prints both).
OPTION_DEFAULTS = {"device": "cpu", "precision": "fp32", "input_shape": "the model's", "dtype": "float32",
                   "transfer": "1"}

_DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    if "TorchScript" in lines[0]:  # TorchScript puts its code excerpt first and the cause last
        return lines[-1][:200]
    return "%s: %s" % (type(exc).__name__, lines[0][:200])


def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise _common.RunnerError("%s (%s)" % (MISSING, exc))
    return torch


def _device(torch, text):
    kind, index = _common.device_option(text, "cuda")
    text = (text or "cpu").strip().lower()
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        built = torch.version.cuda
        raise RuntimeError(
            "--opt device=%s: no CUDA device available to PyTorch %s (%s); use --opt device=cpu"
            % (text, torch.__version__,
               "built with CUDA %s, but none found" % built if built else "a CPU-only build"))
    index = index or 0
    count = torch.cuda.device_count()
    if not 0 <= index < count:
        raise RuntimeError("--opt device=%s: only %d CUDA device(s) (cuda:0..cuda:%d)"
                           % (text, count, count - 1))
    return torch.device("cuda", index)


def _shapes(text, batch):
    return _common.input_shapes(text, batch, "1x3x224x224")


def _exported_inputs(program):
    """``(shapes, dtypes)`` of an ExportedProgram's user inputs, from the traced placeholders."""
    names = set(program.graph_signature.user_inputs)
    shapes, dtypes = [], []
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in names:
            val = node.meta.get("val")
            if val is None or not hasattr(val, "shape"):
                return None
            try:
                shapes.append([int(d) for d in val.shape])
            except TypeError:  # a dynamic (symbolic) dimension: the user must say
                return None
            dtypes.append(str(val.dtype).replace("torch.", ""))
    return shapes, dtypes


def _load_user_model(torch, path, device):
    """``(module, kind, exported_program_or_None)``; the model file format decides the loader."""
    errors = []
    loaders = [("exported_program", _load_exported), ("torchscript", _load_script)]
    if not path.endswith(".pt2"):
        loaders.reverse()
    for kind, load in loaders:
        try:
            module, program = load(torch, path, device)
            return module, kind, program
        except Exception as exc:
            errors.append("%s: %s" % (kind, _first_line(exc)))
    raise ValueError("cannot load %s as a TorchScript file or an exported program (%s)"
                     % (path, "; ".join(errors)))


def _load_script(torch, path, device):
    return torch.jit.load(path, map_location=device), None


def _load_exported(torch, path, device):
    program = torch.export.load(path)
    return program.module(), program


def _user_model(torch, np, rng, args, device):
    path = args.model
    module, kind, program = _load_user_model(torch, path, device)
    opts = args.opts
    shape_text = opts.get("input_shape")
    dtype_text = opts.get("dtype")
    if shape_text:
        shapes = _shapes(shape_text, args.batch)
        dtypes = (dtype_text or "float32").split(",")
    elif program is not None and _exported_inputs(program) is not None:
        shapes, dtypes = _exported_inputs(program)
        if dtype_text:
            dtypes = dtype_text.split(",")
        shapes = [[args.batch] + s[1:] if s else s for s in shapes]
    else:
        raise ValueError("%s: give the input shape, e.g. --opt input_shape=1x3x224x224 (and --opt dtype=...)"
                         % path)
    dtypes = [d.strip() for d in dtypes]
    if len(dtypes) == 1 and len(shapes) > 1:
        dtypes = dtypes * len(shapes)
    if len(dtypes) != len(shapes):
        raise ValueError("--opt dtype=%s: give one dtype, or one per input (%d)" % (dtype_text, len(shapes)))
    arrays = [_common.random_input(np, rng, s, d) for s, d in zip(shapes, dtypes)]
    names = ["input%d" % i for i in range(len(arrays))] if len(arrays) > 1 else ["input"]
    tensors = [torch.from_numpy(a) for a in arrays]
    tensors = [t.to(torch.bfloat16) if d == "bfloat16" else t for t, d in zip(tensors, dtypes)]
    return module, tensors, names, kind


def _builtin_model(torch, np, rng, args):
    module = _torch_models.build_model(args.model)
    x = torch.from_numpy(_torch_models.make_input(args.model, args.batch, rng))
    return module, [x], ["input"]


def _cuda_oom_hint(torch, exc):
    if isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())) or "out of memory" in str(exc):
        return RuntimeError("CUDA out of memory while loading the model: %s; try a smaller --batch or "
                            "--opt precision=fp16" % _first_line(exc))
    return None


def validate(spec):
    """A one-line problem with ``spec`` before any worker starts, or None (no framework imported)."""
    return _model_files.problem_with(spec, MODELS, RUNNER, lambda s: _check_options(s.options),
                                     _model_files.check_torch)


def _check_options(opts):
    _common.check_known_options(opts, OPTIONS, "torch")
    _common.device_option(opts.get("device"), "cuda")
    precision = opts.get("precision", "fp32").lower()
    if precision not in ("fp32", "fp16"):
        raise ValueError("--opt precision=%s: use fp32 or fp16" % precision)
    transfer = opts.get("transfer", "1")
    if transfer not in ("0", "1"):
        raise ValueError("--opt transfer=%s: use 1 or 0" % transfer)
    if "input_shape" in opts:
        _shapes(opts["input_shape"], 1)
    for d in opts.get("dtype", "float32").split(","):
        if d.strip() not in _DTYPES:
            raise ValueError("--opt dtype=%s: use one of %s" % (d, ", ".join(_DTYPES)))
    return precision, transfer == "1"


def _check_args(args):
    """Everything about the command line that needs no PyTorch: fails fast, and where torch is absent."""
    precision, transfer = _check_options(args.opts)
    if args.model not in MODELS and not os.path.exists(args.model):
        raise ValueError("unknown model %r: neither a built-in model (%s) nor an existing file"
                         % (args.model, ", ".join(sorted(MODELS))))
    return precision, transfer


def build(args):
    precision, transfer = _check_args(args)
    torch = _import_torch()
    import numpy as np

    if args.threads:
        torch.set_num_threads(args.threads)
    device = _device(torch, args.opts.get("device"))
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)

    if args.model in MODELS:
        module, inputs, names = _builtin_model(torch, np, rng, args)
        source = "builtin"
        gflops = MODELS[args.model]["gflops"]
    else:
        module, inputs, names, source = _user_model(torch, np, rng, args, device)
        gflops = None

    if source != "exported_program":  # an exported program is already an inference graph (no .eval())
        module.eval()
    half = precision == "fp16"
    try:
        module.to(device)
        if half:
            module.half()
    except RuntimeError as exc:
        raise _cuda_oom_hint(torch, exc) or exc
    if half:
        inputs = [t.half() if t.is_floating_point() else t for t in inputs]
    infos = [{"name": n, "shape": [int(d) for d in t.shape], "dtype": str(t.dtype).replace("torch.", "")}
             for n, t in zip(names, inputs)]
    params = _torch_models.count_params(module)

    # Inference mode stays on for this (the only) thread: entering the context manager on every
    # call would cost microseconds, as much as the smallest models' forward pass.
    torch.inference_mode(True).__enter__()
    torch.set_grad_enabled(False)
    run = _make_run(torch, module, inputs, device, transfer)
    probed = half and device.type == "cpu"
    if probed:
        _probe_fp16_cpu(torch, run)

    info = {
        "precision": precision,
        "first_inference_after_probe": probed,  # then first_inference_ms is the second forward
        "model_source": source,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }
    if source != "builtin":
        info["model_path"] = os.path.abspath(args.model)
    device_text = str(device)
    if device.type == "cuda":
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["gpu_name"] = torch.cuda.get_device_name(device)
        info["transfer"] = transfer
        device_text = "%s (%s)" % (device, info["gpu_name"])
    return _common.Model(run, inputs=infos, params=params, device=device_text,
                         framework_version=torch.__version__, gflops=gflops, info=info)


def _probe_fp16_cpu(torch, run):
    """One forward at build time: a CPU without Half kernels fails here with a message that says so."""
    try:
        run()
    except RuntimeError as exc:
        raise RuntimeError("fp16 is not supported on CPU by PyTorch %s for this model (%s); "
                           "use --opt precision=fp32 or --opt device=cuda"
                           % (torch.__version__, _first_line(exc)))


def _make_run(torch, module, inputs, device, transfer):
    """One timed iteration: a closure over locals only, nothing optional inside."""
    if device.type != "cuda":
        if len(inputs) == 1:
            x = inputs[0]

            def run():
                return module(x)
        else:
            def run():
                return module(*inputs)
        return run

    sync = torch.cuda.synchronize
    if not transfer:
        on_device = [t.to(device) for t in inputs]

        def run():
            out = module(*on_device)
            sync(device)  # latency ends when the device is done (docs/architecture.md "Timing scopes")
            return out
        return run

    host = [t.pin_memory() for t in inputs]  # page-locked, as a real input pipeline would hand it over

    def run():
        out = module(*[t.to(device, non_blocking=True) for t in host])
        out = _to_host(out)
        sync(device)
        return out
    return run


def _to_host(out):
    if hasattr(out, "cpu"):
        return out.cpu()
    if isinstance(out, (list, tuple)):
        return [_to_host(o) for o in out]
    if isinstance(out, dict):
        return dict((k, _to_host(v)) for k, v in out.items())
    return out


def main(argv=None):
    return _common.run_main(RUNNER, "torch", MODELS, build, argv)


if __name__ == "__main__":
    sys.exit(main())
