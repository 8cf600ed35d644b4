"""tensorrt runner: a serialized TensorRT engine, or an ONNX model built into one.

    python tensorrt_runner.py --model model.engine
    python tensorrt_runner.py --model model.onnx --opt fp16=1
    python tensorrt_runner.py --model mobilenet_v1 --opt int8=1     # built-in, via ONNX

Built-in models are written as ONNX (``_onnx_models``, needs the ``onnx`` package)
and built into an engine; engines are cached per model, batch, precision and
TensorRT version. Without calibration data, ``int8=1`` gives every tensor a fixed
dynamic range (like trtexec --int8 without a calibration cache): right for timing,
not for accuracy.

One iteration = host-to-device copy of the inputs, execution, device-to-host copy
of the outputs, and a synchronise: trtexec's "Latency" (host latency). Device
buffers come from whichever CUDA binding is present: cuda-python (``cuda.cudart``
or ``cuda.bindings.runtime``), pycuda, or PyTorch tensors.

Options (--opt key=value):
    fp16=1, int8=1   builder precision flags (ONNX and built-in models)
    workspace_mb=N   builder workspace limit (default 1024)
    cuda=NAME        force a binding: cudart, pycuda or torch
"""

import os
import sys
import zlib

if __package__:
    from . import _cache, _common, _model_defs, _model_files
else:  # started as a script
    import _cache
    import _common
    import _model_defs
    import _model_files

RUNNER = "tensorrt"
ACCEPTS_MODEL_FILES = True
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
MODEL_SUFFIXES = ENGINE_SUFFIXES + (".onnx",)
NOT_INSTALLED = "TensorRT is not installed (it ships with JetPack)"
INT8_RANGE = 4.0

MODELS = _model_defs.catalogue(channels_first=True)

OPTIONS = {
    "fp16": "1: allow FP16 kernels when building an engine",
    "int8": "1: allow INT8 kernels (fixed dynamic ranges, no calibration)",
    "workspace_mb": "builder workspace limit in MB",
    "cuda": "device buffers through cudart, pycuda or torch",
}
# What each option is when not given (`edgemon models --runner tensorrt` prints both).
OPTION_DEFAULTS = {"fp16": "0", "int8": "0", "workspace_mb": "1024", "cuda": "the first present"}


def _flag(opts, key):
    value = opts.get(key, "0").lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError("--opt %s=%s: use 1 or 0" % (key, opts[key]))
    return value in ("1", "true", "yes")


def _parse(opts):
    _common.check_known_options(opts, OPTIONS, "tensorrt")
    workspace = opts.get("workspace_mb", "1024")
    if not workspace.isdigit() or int(workspace) < 1:
        raise ValueError("--opt workspace_mb=%s: a whole number of MB >= 1" % workspace)
    cuda = opts.get("cuda")
    if cuda is not None and cuda not in ("cudart", "pycuda", "torch"):
        raise ValueError("--opt cuda=%s: use cudart, pycuda or torch" % cuda)
    return {"fp16": _flag(opts, "fp16"), "int8": _flag(opts, "int8"), "workspace_mb": int(workspace),
            "cuda": cuda}


def validate(spec):
    """A one-line problem with ``spec`` before any worker starts, or None (no framework imported)."""
    try:
        cfg = _parse(spec.options)
    except ValueError as exc:
        return str(exc)
    if spec.model in MODELS:
        return None
    if not (_model_files.looks_like_path(spec.model) or os.path.exists(spec.model)):
        return None  # the registry says "unknown model"
    problem = _model_files.check(spec.model, MODEL_SUFFIXES, RUNNER)
    if problem:
        return problem
    if os.path.splitext(spec.model)[1].lower() in ENGINE_SUFFIXES and (cfg["fp16"] or cfg["int8"]):
        return "fp16/int8 apply when building an engine; %s is already built (drop --opt fp16/int8)" % spec.model
    return None


def probe():
    """Why this runner cannot run under this interpreter, or None (nothing imported)."""
    if _model_files.missing_modules(("tensorrt",)):
        return NOT_INSTALLED
    if len(_model_files.missing_modules(("cuda", "pycuda", "torch"))) == 3:
        return "no CUDA binding for device buffers (pip install cuda-python, or pycuda)"
    return None


def _tensorrt():
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise _common.RunnerError("%s: import tensorrt failed (%s)" % (NOT_INSTALLED, exc))
    return trt


# ---------------------------------------------------------------- CUDA bindings


class _Cudart(object):
    name = "cuda-python"

    def __init__(self):
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart
        self.rt = cudart
        self.stream = self._ok(cudart.cudaStreamCreate())

    def _ok(self, result):
        err, rest = result[0], result[1:]
        if int(err) != 0:
            raise RuntimeError("CUDA error %s" % err)
        return rest[0] if len(rest) == 1 else rest

    def alloc(self, nbytes):
        return int(self._ok(self.rt.cudaMalloc(nbytes)))

    def h2d(self, ptr, host):
        kind = self.rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._ok((self.rt.cudaMemcpyAsync(ptr, host.ctypes.data, host.nbytes, kind, self.stream)[0],))

    def d2h(self, host, ptr):
        kind = self.rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._ok((self.rt.cudaMemcpyAsync(host.ctypes.data, ptr, host.nbytes, kind, self.stream)[0],))

    @property
    def stream_handle(self):
        return int(self.stream)

    def sync(self):
        self._ok((self.rt.cudaStreamSynchronize(self.stream)[0],))


class _PyCuda(object):
    name = "pycuda"

    def __init__(self):
        import pycuda.autoinit  # noqa: F401 (creates the context)
        import pycuda.driver as cuda
        self.cuda = cuda
        self.stream = cuda.Stream()
        self._keep = []

    def alloc(self, nbytes):
        mem = self.cuda.mem_alloc(nbytes)
        self._keep.append(mem)
        return int(mem)

    def h2d(self, ptr, host):
        self.cuda.memcpy_htod_async(ptr, host, self.stream)

    def d2h(self, host, ptr):
        self.cuda.memcpy_dtoh_async(host, ptr, self.stream)

    @property
    def stream_handle(self):
        return self.stream.handle

    def sync(self):
        self.stream.synchronize()


class _Torch(object):
    name = "torch"

    def __init__(self):
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("torch %s sees no CUDA device" % torch.__version__)
        self.torch = torch
        self.stream = torch.cuda.Stream()
        self._keep = []

    def alloc(self, nbytes):
        t = self.torch.empty(nbytes, dtype=self.torch.uint8, device="cuda")
        self._keep.append(t)
        return t.data_ptr()

    def _view(self, ptr):
        for t in self._keep:
            if t.data_ptr() == ptr:
                return t
        raise KeyError(ptr)

    def h2d(self, ptr, host):
        with self.torch.cuda.stream(self.stream):
            src = self.torch.from_numpy(host.reshape(-1).view("uint8"))
            self._view(ptr)[:host.nbytes].copy_(src, non_blocking=False)

    def d2h(self, host, ptr):
        with self.torch.cuda.stream(self.stream):
            dst = self.torch.from_numpy(host.reshape(-1).view("uint8"))
            dst.copy_(self._view(ptr)[:host.nbytes], non_blocking=False)

    @property
    def stream_handle(self):
        return self.stream.cuda_stream

    def sync(self):
        self.stream.synchronize()


_BINDINGS = (("cudart", _Cudart), ("pycuda", _PyCuda), ("torch", _Torch))


def cuda_binding(prefer=None):
    """The first CUDA binding that works (or ``prefer``); RuntimeError listing why each failed."""
    errors = []
    for name, cls in _BINDINGS:
        if prefer and name != prefer:
            continue
        try:
            return cls()
        except Exception as exc:
            errors.append("%s: %s" % (name, _common._one_line(exc)))
    raise RuntimeError("no CUDA binding for device buffers (pip install cuda-python, or pycuda, or use "
                       "JetPack's PyTorch); " + "; ".join(errors))


# ---------------------------------------------------------------- engines


def onnx_file(name, seed=0, root=None):
    """The cached ONNX file of a built-in model, written on first use."""
    if __package__:
        from . import _onnx_models
    else:
        import _onnx_models

    def write(path):
        import onnx
        onnx.save(_onnx_models.build(name, seed), path)

    filename = "%s-s%d-v%d.onnx" % (name, seed, _onnx_models.GENERATOR_VERSION)
    return _cache.cached("onnx", filename, write, root=root)


def _build_engine(trt, onnx_path, batch, cfg, logger):
    builder = trt.Builder(logger)
    explicit = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(explicit)
    parser = trt.OnnxParser(network, logger)
    with open(onnx_path, "rb") as f:
        if not parser.parse(f.read()):
            errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
            raise RuntimeError("TensorRT cannot parse %s: %s" % (onnx_path, "; ".join(errors) or "unknown error"))
    config = builder.create_builder_config()
    workspace = cfg["workspace_mb"] << 20
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    else:  # TensorRT < 8.4
        config.max_workspace_size = workspace
    if cfg["fp16"]:
        if not builder.platform_has_fast_fp16:
            sys.stderr.write("tensorrt: this GPU has no fast FP16; building anyway\n")
        config.set_flag(trt.BuilderFlag.FP16)
    if cfg["int8"]:
        config.set_flag(trt.BuilderFlag.INT8)
        for i in range(network.num_layers):  # fixed ranges instead of calibration (see module doc)
            layer = network.get_layer(i)
            for j in range(layer.num_outputs):
                layer.get_output(j).dynamic_range = (-INT8_RANGE, INT8_RANGE)
        for i in range(network.num_inputs):
            network.get_input(i).dynamic_range = (-INT8_RANGE, INT8_RANGE)
    profile = None
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = list(tensor.shape)
        if any(d < 0 for d in shape):
            if any(d < 0 for d in shape[1:]):
                raise ValueError("input %s has dynamic dimensions besides the batch: %s" % (tensor.name, shape))
            profile = profile or builder.create_optimization_profile()
            fixed = [batch] + shape[1:]
            profile.set_shape(tensor.name, fixed, fixed, fixed)
        elif shape and shape[0] != batch:
            raise ValueError("the ONNX model has a fixed batch of %d (input %s); use --batch %d"
                             % (shape[0], tensor.name, shape[0]))
    if profile is not None:
        config.add_optimization_profile(profile)
    if hasattr(builder, "build_serialized_network"):
        plan = builder.build_serialized_network(network, config)
    else:  # TensorRT 7
        engine = builder.build_engine(network, config)
        plan = engine.serialize() if engine is not None else None
    if plan is None:
        raise RuntimeError("TensorRT could not build an engine from %s (see the builder log on stderr)" % onnx_path)
    return bytes(plan)


def _engine_path(trt, args, cfg):
    """``(engine file, built here?)`` for ``args.model``: a given engine, or one built and cached."""
    ext = os.path.splitext(args.model)[1].lower()
    if args.model not in MODELS:
        problem = _model_files.check(args.model, MODEL_SUFFIXES, RUNNER)
        if problem:
            raise ValueError(problem)
        if ext in ENGINE_SUFFIXES:
            return os.path.abspath(args.model), False
        onnx_path = os.path.abspath(args.model)
        key = "%s|%r|%d" % (onnx_path, os.path.getmtime(onnx_path), os.path.getsize(onnx_path))
        stem = "%s-%08x" % (os.path.splitext(os.path.basename(onnx_path))[0], zlib.crc32(key.encode("utf-8")))
    else:
        onnx_path = onnx_file(args.model, args.seed)
        stem = "%s-s%d" % (args.model, args.seed)
    precision = "int8" if cfg["int8"] else "fp16" if cfg["fp16"] else "fp32"
    filename = "%s-b%d-%s-trt%s.engine" % (stem, args.batch, precision, trt.__version__)
    logger = trt.Logger(trt.Logger.WARNING)

    def write(path):
        with open(path, "wb") as f:
            f.write(_build_engine(trt, onnx_path, args.batch, cfg, logger))

    return _cache.cached("tensorrt", filename, write), True


class _IO(object):
    """One engine input/output: host array, device pointer."""

    def __init__(self, name, shape, dtype, is_input, host, ptr):
        self.name, self.shape, self.dtype, self.is_input, self.host, self.ptr = \
            name, shape, dtype, is_input, host, ptr


def _bind(trt, np, engine, context, cuda, batch, rng):
    """Host/device buffers for every I/O tensor (TensorRT 10 tensor API, or the 7/8 bindings API)."""
    ios = []
    if hasattr(engine, "num_io_tensors"):
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            shape = list(engine.get_tensor_shape(name))
            if is_input and any(d < 0 for d in shape):
                shape = [batch] + shape[1:]
                context.set_input_shape(name, shape)
            ios.append((name, is_input, np.dtype(trt.nptype(engine.get_tensor_dtype(name))), shape))
        resolved = []
        for name, is_input, dtype, shape in ios:
            if not is_input:
                shape = list(context.get_tensor_shape(name))
            resolved.append((name, is_input, dtype, shape))
        ios = resolved
    else:
        for i in range(engine.num_bindings):
            name = engine.get_binding_name(i)
            is_input = engine.binding_is_input(i)
            shape = list(engine.get_binding_shape(i))
            if is_input and any(d < 0 for d in shape):
                shape = [batch] + shape[1:]
                context.set_binding_shape(i, shape)
            ios.append((name, is_input, np.dtype(trt.nptype(engine.get_binding_dtype(i))), shape))
        ios = [(n, inp, dt, shp if inp else list(context.get_binding_shape(i)))
               for i, (n, inp, dt, shp) in enumerate(ios)]
    out = []
    for name, is_input, dtype, shape in ios:
        if is_input:
            host = rng.random_sample(shape).astype(dtype) if dtype.kind == "f" else \
                rng.randint(0, 100, size=shape).astype(dtype)
        else:
            host = np.empty(shape, dtype)
        host = np.ascontiguousarray(host)
        ptr = cuda.alloc(max(host.nbytes, 1))
        out.append(_IO(name, shape, dtype, is_input, host, ptr))
    return out


def build(args):
    import numpy as np

    cfg = _parse(args.opts)
    trt = _tensorrt()
    cuda = cuda_binding(cfg["cuda"])
    path, built = _engine_path(trt, args, cfg)
    logger = trt.Logger(trt.Logger.WARNING)
    runtime = trt.Runtime(logger)
    with open(path, "rb") as f:
        engine = runtime.deserialize_cuda_engine(f.read())
    if engine is None:
        raise RuntimeError("TensorRT cannot load engine %s (built by another TensorRT version or GPU?)" % path)
    context = engine.create_execution_context()
    rng = np.random.RandomState(args.seed)
    ios = _bind(trt, np, engine, context, cuda, args.batch, rng)
    inputs = [i for i in ios if i.is_input]
    outputs = [i for i in ios if not i.is_input]
    h2d, d2h, sync = cuda.h2d, cuda.d2h, cuda.sync
    stream = cuda.stream_handle

    if hasattr(context, "execute_async_v3"):
        for io in ios:
            context.set_tensor_address(io.name, io.ptr)

        def execute():
            context.execute_async_v3(stream)
    else:
        bindings = [io.ptr for io in ios]

        def execute():
            context.execute_async_v2(bindings, stream)

    def run():
        for io in inputs:
            h2d(io.ptr, io.host)
        execute()
        for io in outputs:
            d2h(io.host, io.ptr)
        sync()

    entry = MODELS.get(args.model, {})
    return _common.Model(
        run,
        inputs=[_common.input_info(io.name, io.host) for io in inputs],
        params=entry.get("params"),
        device="gpu",
        framework_version=trt.__version__,
        gflops=entry.get("gflops"),
        info={"engine_path": path, "engine_built": built, "cuda_binding": cuda.name,
              "precision": "int8" if cfg["int8"] else "fp16" if cfg["fp16"] else "fp32",
              "outputs": [_common.input_info(io.name, io.host) for io in outputs]},
    )


def main(argv=None):
    return _common.run_main(RUNNER, "tensorrt", MODELS, build, argv)


if __name__ == "__main__":
    sys.exit(main())
