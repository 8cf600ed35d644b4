"""tflite runner: TensorFlow Lite / LiteRT models on the CPU or a Coral Edge TPU.

The interpreter comes from tflite_runtime, ai_edge_litert or tensorflow (tf.lite), in
that order; the hello says which. Built-in models (float32, and full-integer
``_int8`` / ``_uint8`` variants) are written into the model cache on first use (see
``_tflite_models``); any ``.tflite`` file works too.

    python tflite_runner.py --model mobilenet_v1_025_int8 --threads 4
    python tflite_runner.py --model model_edgetpu.tflite          # Edge TPU
    python tflite_runner.py --model mnist_2d_uint8 --opt edgetpu=1

Inputs are random, of each input's dtype: floats in [0, 1); int8/uint8 inputs
uniform over the real-valued range their quantisation (scale, zero point) can
represent. One iteration = inputs copied in, ``invoke()``, outputs copied out
(study 003's "input sent -> result back"); ``--opt io=0`` times ``invoke()`` alone,
like TFLite's benchmark_model.

Options (--opt key=value):
    edgetpu=1     load the Edge TPU delegate (implied by a model named *_edgetpu.tflite)
    io=0          time invoke() only
"""

import os
import sys

if __package__:
    from . import _cache, _common, _model_defs, _model_files
else:  # started as a script
    import _cache
    import _common
    import _model_defs
    import _model_files

RUNNER = "tflite"
ACCEPTS_MODEL_FILES = True
MODEL_SUFFIXES = (".tflite",)
EDGETPU_LIB = "libedgetpu.so.1"
NO_EDGETPU = ("no Edge TPU found: %s could not be loaded (install libedgetpu1-std from Coral's apt "
              "repository and plug in the device)" % EDGETPU_LIB)
QUANT_TEXT = {"int8": "full-integer int8 (inputs/outputs int8)", "uint8": "quantised uint8 (inputs/outputs uint8)"}


def _catalogue():
    models = {}
    for name in sorted(_model_defs.DEFINITIONS):
        models[name] = _model_defs.entry(name, dtype="float32")
        for quant in ("int8", "uint8"):
            base = _model_defs.entry(name)
            models["%s_%s" % (name, quant)] = _model_defs.entry(
                name, description="%s; %s" % (base["description"], QUANT_TEXT[quant]), dtype=quant)
    return models


MODELS = _catalogue()

OPTIONS = {
    "edgetpu": "1: run on a Coral Edge TPU (libedgetpu delegate)",
    "io": "0: time invoke() only; 1: copy inputs in and outputs out too",
}
# What each option is when not given (`edgemon models --runner tflite` prints both).
OPTION_DEFAULTS = {"edgetpu": "0", "io": "1"}


def _builtin(model):
    """``(definition name, quantisation)`` of a built-in model name, or None."""
    if model not in MODELS:
        return None
    for quant in ("int8", "uint8"):
        if model.endswith("_" + quant):
            return model[:-len(quant) - 1], quant
    return model, "float32"


def _wants_edgetpu(model, opts):
    flag = opts.get("edgetpu", "0").lower()
    return flag in ("1", "true", "yes") or model.endswith("_edgetpu.tflite")


def validate(spec):
    """A one-line problem with ``spec`` before any worker starts, or None (no framework imported)."""
    for key, allowed in (("edgetpu", ("0", "1", "true", "false", "yes", "no")), ("io", ("0", "1"))):
        value = spec.options.get(key)
        if value is not None and value.lower() not in allowed:
            return "--opt %s=%s: use 1 or 0" % (key, value)
    if spec.model not in MODELS:
        if not _model_files.looks_like_path(spec.model) and not os.path.exists(spec.model):
            return None  # the registry says "unknown model"
        problem = _model_files.check(spec.model, MODEL_SUFFIXES, RUNNER)
        if problem:
            return problem
    if _wants_edgetpu(spec.model, spec.options):
        return _model_files.check_batch(spec, "Edge TPU models are compiled for a fixed input shape")
    return None


def probe():
    """Why this runner cannot run under this interpreter, or None (nothing imported)."""
    if len(_model_files.missing_modules(("tflite_runtime", "ai_edge_litert", "tensorflow"))) == 3:
        return "no TFLite interpreter (pip install ai-edge-litert, tflite-runtime or tensorflow)"
    return None


def interpreter_api():
    """``(Interpreter class, load_delegate, module name, version)`` of the first TFLite found."""
    errors = []
    try:
        from tflite_runtime.interpreter import Interpreter, load_delegate
        import tflite_runtime
        return Interpreter, load_delegate, "tflite_runtime", getattr(tflite_runtime, "__version__", None)
    except ImportError as exc:
        errors.append("tflite_runtime (%s)" % exc)
    try:
        from ai_edge_litert.interpreter import Interpreter, load_delegate
        import ai_edge_litert
        return Interpreter, load_delegate, "ai_edge_litert", getattr(ai_edge_litert, "__version__", None)
    except ImportError as exc:
        errors.append("ai_edge_litert (%s)" % exc)
    try:
        import tensorflow as tf
        return tf.lite.Interpreter, tf.lite.experimental.load_delegate, "tensorflow.lite", tf.__version__
    except Exception as exc:  # ImportError, or a TensorFlow install broken some other way
        errors.append("tensorflow (%s)" % exc)
    raise RuntimeError("no TFLite interpreter: install ai-edge-litert (pip install ai-edge-litert), "
                       "tflite-runtime or tensorflow; tried " + "; ".join(errors))


def _pycoral_edgetpu():
    """Coral's pycoral.utils.edgetpu, or None (the PyPI package named 'pycoral' is unrelated)."""
    try:
        from pycoral.utils import edgetpu
    except Exception:
        return None
    return edgetpu if hasattr(edgetpu, "make_interpreter") else None


def model_file(name, quant, seed=0, root=None):
    """The cached .tflite file of a built-in model, written on first use."""
    if __package__:
        from . import _tflite_models
    else:
        import _tflite_models

    def write(path):
        with open(path, "wb") as f:
            f.write(_tflite_models.build(name, quant, seed))

    filename = "%s-%s-s%d-v%d.tflite" % (name, quant, seed, _tflite_models.GENERATOR_VERSION)
    return _cache.cached("tflite", filename, write, root=root)


def random_input(np, rng, shape, dtype, quantization):
    """Random data of ``dtype``; quantised integers cover the real range (scale, zero point) can represent."""
    dtype = np.dtype(dtype)
    scale, zero = quantization if quantization else (0.0, 0)
    if dtype.kind == "f":
        return rng.random_sample(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random_sample(shape) < 0.5
    info = np.iinfo(dtype)
    if scale:
        lo, hi = (info.min - zero) * scale, (info.max - zero) * scale
        real = rng.uniform(lo, hi, shape)
        return np.clip(np.round(real / scale) + zero, info.min, info.max).astype(dtype)
    return rng.randint(0, min(int(info.max), 100) + 1, size=shape).astype(dtype)  # ids, counts


def _load(args, Interpreter, load_delegate, path, edgetpu):
    kwargs = {}
    if args.threads:
        kwargs["num_threads"] = args.threads
    if not edgetpu:
        return Interpreter(model_path=path, **kwargs), "cpu"
    pycoral = _pycoral_edgetpu()
    if pycoral is not None:
        try:
            return pycoral.make_interpreter(path), "edgetpu (pycoral)"
        except (ValueError, RuntimeError, OSError) as exc:
            raise RuntimeError("%s; pycoral said: %s" % (NO_EDGETPU, _common._one_line(exc)))
    try:
        delegate = load_delegate(EDGETPU_LIB)
    except (ValueError, RuntimeError, OSError) as exc:
        raise RuntimeError("%s; the loader said: %s" % (NO_EDGETPU, _common._one_line(exc)))
    return Interpreter(model_path=path, experimental_delegates=[delegate], **kwargs), "edgetpu"


def build(args):
    import numpy as np

    _common.check_known_options(args.opts, OPTIONS, "tflite")
    Interpreter, load_delegate, api_name, version = interpreter_api()
    builtin = _builtin(args.model)
    if builtin is not None:
        path = model_file(builtin[0], builtin[1], args.seed)
    else:
        problem = _model_files.check(args.model, MODEL_SUFFIXES, RUNNER)
        if problem:
            raise ValueError(problem)
        path = os.path.abspath(args.model)
    edgetpu = _wants_edgetpu(args.model, args.opts)
    interp, device = _load(args, Interpreter, load_delegate, path, edgetpu)

    details = interp.get_input_details()
    for d in details:
        shape = [int(s) for s in d["shape"]]
        if shape and shape[0] != args.batch:
            try:
                interp.resize_tensor_input(d["index"], [args.batch] + shape[1:])
            except Exception as exc:
                raise ValueError("model %s cannot take batch %d (input %r has shape %s): %s"
                                 % (args.model, args.batch, d["name"], shape, _common._one_line(exc)))
    try:
        interp.allocate_tensors()
    except Exception as exc:
        raise RuntimeError("model %s does not run with batch %d: %s"
                           % (args.model, args.batch, _common._one_line(exc)))

    rng = np.random.RandomState(args.seed)
    feeds, inputs = [], []
    for d in interp.get_input_details():
        x = random_input(np, rng, tuple(int(s) for s in d["shape"]), d["dtype"], d.get("quantization"))
        feeds.append((d["index"], x))
        info = _common.input_info(d["name"], x)
        scale, zero = d.get("quantization") or (0.0, 0)
        if scale:
            info["quantization"] = {"scale": float(scale), "zero_point": int(zero)}
        inputs.append(info)
    outs = [d["index"] for d in interp.get_output_details()]

    set_tensor, invoke, get_tensor = interp.set_tensor, interp.invoke, interp.get_tensor
    if args.opts.get("io", "1") == "0":
        for index, x in feeds:
            set_tensor(index, x)
        run = invoke
    elif len(feeds) == 1 and len(outs) == 1:
        (in_index, x), = feeds
        out_index = outs[0]

        def run():
            set_tensor(in_index, x)
            invoke()
            return get_tensor(out_index)
    else:
        def run():
            for index, x in feeds:
                set_tensor(index, x)
            invoke()
            return [get_tensor(index) for index in outs]

    entry = MODELS.get(args.model, {})
    with open(path, "rb") as f:
        compiled = b"edgetpu-custom-op" in f.read()
    if edgetpu and not compiled:
        sys.stderr.write("tflite: %s was not compiled for the Edge TPU (edgetpu_compiler); it runs on the CPU\n"
                         % path)
    return _common.Model(
        run,
        inputs=inputs,
        params=entry.get("params"),
        device=device,
        framework_version=version,
        gflops=entry.get("gflops"),
        info={"interpreter": api_name, "model_path": path, "edgetpu": edgetpu, "edgetpu_compiled": compiled,
              "outputs": [_common.input_info(d["name"], np.empty(d["shape"], d["dtype"]))
                          for d in interp.get_output_details()],
              "timed": "invoke" if args.opts.get("io", "1") == "0" else "set_tensor+invoke+get_tensor"},
    )


def main(argv=None):
    return _common.run_main(RUNNER, "tflite", MODELS, build, argv)


if __name__ == "__main__":
    sys.exit(main())
