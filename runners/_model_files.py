"""Cheap checks that a model file is what its runner can load, before any worker starts.

Reads a few bytes only; never imports a framework (the monitor calls these through
the runners' ``validate`` hooks). Standard library only, Python 3.6+.
"""

import os

SUFFIX_TEXT = {
    ".tflite": "a TFLite model",
    ".xml": "an OpenVINO IR model",
    ".onnx": "an ONNX model",
    ".engine": "a TensorRT engine",
    ".plan": "a TensorRT engine",
    ".trt": "a TensorRT engine",
}


def looks_like_path(model):
    return os.sep in model or os.path.splitext(model)[1].lower() in SUFFIX_TEXT


def _head(path, n=512):
    with open(path, "rb") as f:
        return f.read(n)


ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _missing(path, runner):
    return "model file %s does not exist; give an existing file or a built-in model name " \
           "(see `edgemon models --runner %s`)" % (path, runner)


def _readable(path, runner, what):
    """``(problem, first bytes)``: the problem is None for an existing, readable, non-empty file."""
    if not os.path.exists(path):
        return _missing(path, runner), b""
    if not os.path.isfile(path):
        return "model %s is not a file" % path, b""
    try:
        head = _head(path)
    except OSError as exc:
        return "cannot read model file %s: %s" % (path, exc.strerror or exc), b""
    if not head:
        return "model file %s is empty, not %s" % (path, what), b""
    return None, head


def check(path, suffixes, runner):
    """A one-line problem with model file ``path`` for ``runner``, or None."""
    if not os.path.exists(path):
        return _missing(path, runner)
    ext = os.path.splitext(path)[1].lower()
    if os.path.isfile(path) and ext not in suffixes:
        want = ", ".join(sorted(suffixes))
        return "the %s runner cannot load %s: expected a %s file" % (runner, path, want)
    what = SUFFIX_TEXT.get(ext, "a model")
    problem, head = _readable(path, runner, what)
    if problem:
        return problem
    if ext == ".tflite" and head[4:8] != b"TFL3":
        return "%s is not %s (no TFL3 flatbuffer identifier)" % (path, what)
    if ext == ".xml":
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not (text.startswith(b"<?xml") or text.startswith(b"<net")) or b"<net" not in _head(path, 4096):
            return "%s is not %s (no <net> element)" % (path, what)
        weights = os.path.splitext(path)[0] + ".bin"
        if not os.path.isfile(weights):
            return "OpenVINO IR %s has no weights file %s beside it" % (path, weights)
    if ext == ".onnx" and head[:1] != b"\x08":
        return "%s is not %s (an ONNX file begins with its ir_version field)" % (path, what)
    return None


def check_torch(path, runner):
    """A TorchScript file or an exported program: both are zip archives, whatever their suffix."""
    problem, head = _readable(path, runner, "a PyTorch model")
    if problem:
        return problem
    if not head.startswith(ZIP_MAGIC):
        return "%s is not a TorchScript file or an exported program (torch.jit.save and " \
               "torch.export.save write zip archives; a state_dict needs its model's code)" % path
    return None


def check_keras(path, runner):
    """A SavedModel folder, a .keras file (a zip archive) or a legacy .h5 file."""
    if os.path.isdir(path):
        if not any(os.path.isfile(os.path.join(path, n)) for n in ("saved_model.pb", "saved_model.pbtxt")):
            return "%s is a folder but not a SavedModel (no saved_model.pb in it)" % path
        return None
    ext = os.path.splitext(path)[1].lower()
    if os.path.exists(path) and ext not in (".keras", ".h5", ".hdf5"):
        return "the %s runner cannot load %s: expected a SavedModel folder, a .keras or an .h5 file" % (runner, path)
    problem, head = _readable(path, runner, "a Keras model")
    if problem:
        return problem
    if ext == ".keras" and not head.startswith(ZIP_MAGIC):
        return "%s is not a Keras model (a .keras file is a zip archive)" % path
    if ext in (".h5", ".hdf5") and not head.startswith(HDF5_MAGIC):
        return "%s is not a Keras model (not an HDF5 file)" % path
    return None


def problem_with(spec, models, runner, check_options, check_file=None):
    """A runner's ``validate``: the one-line problem with ``spec`` (a WorkloadSpec), or None.

    A user's model file first (``check_file(path, runner)``), then ``check_options(spec)``,
    which raises ValueError with the message.
    """
    model = spec.model
    if check_file is not None and model not in models and (looks_like_path(model) or os.path.exists(model)):
        problem = check_file(model, runner)
        if problem:
            return problem
    try:
        check_options(spec)
    except ValueError as exc:
        return str(exc)
    return None


def missing_modules(names):
    """Names in ``names`` that this interpreter cannot import (found without importing them)."""
    import importlib.util
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def check_batch(spec, fixed_batch_reason):
    """Message when ``spec.batch`` > 1 for a model that cannot take it, else None."""
    if fixed_batch_reason and spec.batch != 1:
        return "batch %d is not possible: %s; use --batch 1" % (spec.batch, fixed_batch_reason)
    return None
