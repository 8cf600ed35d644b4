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


def check(path, suffixes, runner):
    """A one-line problem with model file ``path`` for ``runner``, or None."""
    if not os.path.exists(path):
        return "model file %s does not exist; give an existing file or a built-in model name " \
               "(see `edgemon models --runner %s`)" % (path, runner)
    if not os.path.isfile(path):
        return "model %s is not a file" % path
    ext = os.path.splitext(path)[1].lower()
    if ext not in suffixes:
        want = ", ".join(sorted(suffixes))
        return "the %s runner cannot load %s: expected a %s file" % (runner, path, want)
    try:
        head = _head(path)
    except OSError as exc:
        return "cannot read model file %s: %s" % (path, exc.strerror or exc)
    what = SUFFIX_TEXT.get(ext, "a model")
    if not head:
        return "model file %s is empty, not %s" % (path, what)
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
