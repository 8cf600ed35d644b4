"""Build the built-in models (``_model_defs``) as OpenVINO models with random weights.

Uses OpenVINO's opset API (no converter, no download); the runner saves the result
as IR (.xml + .bin) in the model cache. Layout is NCHW (OpenVINO's native one);
batch 1, the runner reshapes to ``--batch``.
"""

import importlib

if __package__:
    from . import _model_defs
else:
    import _model_defs

GENERATOR_VERSION = 1


def opset():
    """The newest opset module this OpenVINO has (2023.x: openvino.runtime.opsetN; 2024+: openvino.opsetN)."""
    for name in ("openvino.opset13", "openvino.opset8", "openvino.runtime.opset13", "openvino.runtime.opset8"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise RuntimeError("this OpenVINO has no opset8 API (openvino.opset8 / openvino.runtime.opset8); "
                       "install openvino >= 2022.1")


def _model_class():
    ov = importlib.import_module("openvino")
    cls = getattr(ov, "Model", None)
    if cls is None:
        cls = importlib.import_module("openvino.runtime").Model
    return cls


def build(name, seed=0):
    """An ``ov.Model`` for built-in model ``name`` (batch 1, NCHW, float32)."""
    import numpy as np

    ops = opset()
    rng = np.random.RandomState(seed)
    shape = _model_defs.input_shape(name, channels_first=True)
    param = ops.parameter([1] + shape, np.float32, name="input")
    x = param
    for layer, in_shape, _out in _model_defs.walk(name):
        kind = layer[0]
        if kind == "dense":
            units, act = layer[1], layer[2]
            n_in = in_shape[-1]
            w = _model_defs.he_weights(rng, (n_in, units), n_in)
            x = ops.matmul(x, ops.constant(w), False, False)
            x = ops.add(x, ops.constant(np.zeros((1, units), np.float32)))
            x = _activation(ops, x, act)
        elif kind in ("conv", "dwconv"):
            cin = in_shape[2]
            if kind == "conv":
                _, filters, k, stride, pad, act = layer
                w = _model_defs.he_weights(rng, (filters, cin, k, k), k * k * cin)
                x = ops.convolution(x, ops.constant(w), [stride, stride], [0, 0], [0, 0], [1, 1],
                                    auto_pad="same_upper" if pad == "same" else "valid")
                cout = filters
            else:
                _, k, stride, pad, act = layer
                w = _model_defs.he_weights(rng, (cin, 1, 1, k, k), k * k)
                x = ops.group_convolution(x, ops.constant(w), [stride, stride], [0, 0], [0, 0], [1, 1],
                                          auto_pad="same_upper" if pad == "same" else "valid")
                cout = cin
            x = ops.add(x, ops.constant(np.zeros((1, cout, 1, 1), np.float32)))
            x = _activation(ops, x, act)
        elif kind == "maxpool":
            size = layer[1]
            pooled = ops.max_pool(x, [size, size], [1, 1], [0, 0], [0, 0], [size, size], "floor")
            x = pooled.output(0)
        elif kind == "gap":
            x = ops.reduce_mean(x, ops.constant(np.array([2, 3], np.int64)), False)
        elif kind == "flatten":
            x = ops.reshape(x, ops.constant(np.array([0, -1], np.int64)), True)
    result = ops.result(x, name="output")
    model = _model_class()([result], [param], name)
    return model


def _activation(ops, x, act):
    if act == "relu":
        return ops.relu(x)
    if act == "relu6":
        return ops.clamp(x, 0.0, 6.0)
    if act == "softmax":
        return ops.softmax(x, 1)
    if act == "sigmoid":
        return ops.sigmoid(x)
    return x
