"""Built-in model architectures, independent of any framework.

One definition per model, turned into a TFLite flatbuffer (``_tflite_models``), an
OpenVINO model (``_openvino_models``) or an ONNX graph (``_onnx_models``) with
random weights, so no runner ever downloads anything. Parameter counts and GFLOPs
come from the same definition, so every runner's catalogue agrees.

Standard library only (Python 3.6+): the registry imports this to list models.

A definition is ``(input_shape, layers)``; ``input_shape`` has no batch dimension
and is channels-last (H, W, C) for images. Layers:

    ("dense", units, act)                     act: None, "relu", "relu6", "softmax", "sigmoid"
    ("conv", filters, kernel, stride, padding, act)   padding: "valid" or "same"
    ("dwconv", kernel, stride, padding, act)  depthwise, multiplier 1
    ("maxpool", size)                         size x size window, stride size
    ("gap",)                                  global average pool over H, W
    ("flatten",)
"""

# Blanz 2019 (study 000): same layer sizes and parameter counts as the numpy/keras runners.
_BLANZ = {
    "mnist_1d": ((784,), [("dense", 512, "relu"), ("dense", 10, "softmax")]),
    "imdb_dense": ((10000,), [("dense", 16, "relu"), ("dense", 16, "relu"), ("dense", 1, "sigmoid")]),
    "reuters_dense": ((10000,), [("dense", 64, "relu"), ("dense", 64, "relu"), ("dense", 46, "softmax")]),
    "mnist_2d": ((28, 28, 1), [
        ("conv", 32, 3, 1, "valid", "relu"), ("maxpool", 2),
        ("conv", 64, 3, 1, "valid", "relu"), ("maxpool", 2),
        ("conv", 64, 3, 1, "valid", "relu"), ("flatten",),
        ("dense", 64, "relu"), ("dense", 10, "softmax")]),
    "dogs_cats": ((150, 150, 3), [
        ("conv", 32, 3, 1, "valid", "relu"), ("maxpool", 2),
        ("conv", 64, 3, 1, "valid", "relu"), ("maxpool", 2),
        ("conv", 128, 3, 1, "valid", "relu"), ("maxpool", 2),
        ("conv", 128, 3, 1, "valid", "relu"), ("maxpool", 2), ("flatten",),
        ("dense", 512, "relu"), ("dense", 1, "sigmoid")]),
}

_TEXT = {
    "mnist_1d": "MNIST digits as 784-vectors: Dense 512 relu -> Dense 10 softmax (Blanz 2019)",
    "imdb_dense": "IMDB multi-hot 10000-vectors: Dense 16 -> 16 -> 1 sigmoid (Blanz 2019)",
    "reuters_dense": "Reuters multi-hot 10000-vectors: Dense 64 -> 64 -> 46 softmax (Blanz 2019)",
    "mnist_2d": "MNIST convnet: Conv 32/64/64 3x3 + MaxPool -> Dense 64 -> 10 (Blanz 2019)",
    "dogs_cats": "Dogs vs Cats convnet 150x150x3: Conv 32/64/128/128 + MaxPool -> Dense 512 -> 1 (Blanz 2019)",
    "mobilenet_v1": "MobileNet v1 1.0 224x224x3, 1000 classes (BN folded into biases; Ni 2020, Hadidi 2019)",
    "mobilenet_v1_025": "MobileNet v1 0.25 128x128x3, 1000 classes (BN folded): a small, fast convnet",
}

# (pointwise filters, depthwise stride) of MobileNet v1's 13 separable blocks
_MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [
    (1024, 2), (1024, 1)]


def _mobilenet(alpha, size):
    layers = [("conv", int(32 * alpha), 3, 2, "same", "relu6")]
    for filters, stride in _MOBILENET_BLOCKS:
        layers.append(("dwconv", 3, stride, "same", "relu6"))
        layers.append(("conv", int(filters * alpha), 1, 1, "same", "relu6"))
    layers += [("gap",), ("dense", 1000, "softmax")]
    return (size, size, 3), layers


DEFINITIONS = dict(_BLANZ)
DEFINITIONS["mobilenet_v1"] = _mobilenet(1.0, 224)
DEFINITIONS["mobilenet_v1_025"] = _mobilenet(0.25, 128)


def _out_size(n, kernel, stride, padding):
    if padding == "same":
        return (n + stride - 1) // stride
    return (n - kernel) // stride + 1


def walk(name):
    """Yield ``(layer, in_shape, out_shape)`` for each layer (shapes without batch, channels-last)."""
    shape, layers = DEFINITIONS[name]
    shape = tuple(shape)
    for layer in layers:
        kind = layer[0]
        if kind == "dense":
            out = (layer[1],)
        elif kind == "conv":
            _, filters, k, s, pad, _ = layer
            out = (_out_size(shape[0], k, s, pad), _out_size(shape[1], k, s, pad), filters)
        elif kind == "dwconv":
            _, k, s, pad, _ = layer
            out = (_out_size(shape[0], k, s, pad), _out_size(shape[1], k, s, pad), shape[2])
        elif kind == "maxpool":
            out = (shape[0] // layer[1], shape[1] // layer[1], shape[2])
        elif kind == "gap":
            out = (shape[2],)
        elif kind == "flatten":
            n = 1
            for d in shape:
                n *= d
            out = (n,)
        else:
            raise ValueError("unknown layer kind %r in %s" % (kind, name))
        yield layer, shape, out
        shape = out


def params(name):
    total = 0
    for layer, shape, _out in walk(name):
        kind = layer[0]
        if kind == "dense":
            total += shape[-1] * layer[1] + layer[1]
        elif kind == "conv":
            total += layer[2] * layer[2] * shape[2] * layer[1] + layer[1]
        elif kind == "dwconv":
            total += layer[1] * layer[1] * shape[2] + shape[2]
    return total


def gflops(name):
    """Multiply-adds x 2 per item, as the numpy runner counts them (biases and activations left out)."""
    macs = 0
    for layer, shape, out in walk(name):
        kind = layer[0]
        if kind == "dense":
            macs += shape[-1] * layer[1]
        elif kind == "conv":
            macs += layer[2] * layer[2] * shape[2] * out[0] * out[1] * out[2]
        elif kind == "dwconv":
            macs += layer[1] * layer[1] * out[0] * out[1] * out[2]
    return round(2.0 * macs / 1e9, 9)


def output_shape(name):
    out = None
    for _, _, out in walk(name):  # noqa: B007 - the loop leaves the last layer's output shape in out
        pass
    return list(out)


def input_shape(name, channels_first=False):
    shape = list(DEFINITIONS[name][0])
    if channels_first and len(shape) == 3:
        shape = [shape[2], shape[0], shape[1]]
    return shape


def entry(name, channels_first=False, description=None, **extra):
    """A catalogue entry: ``{input_shape, params, gflops, description}`` plus ``extra``."""
    out = {
        "input_shape": input_shape(name, channels_first),
        "params": params(name),
        "gflops": gflops(name),
        "description": description or _TEXT[name],
    }
    out.update(extra)
    return out


def catalogue(channels_first=False, names=None):
    return dict((n, entry(n, channels_first)) for n in (names or sorted(DEFINITIONS)))


def he_weights(rng, shape, fan_in, dtype="float32"):
    """Random weights with He scaling (activations stay finite through deep stacks)."""
    return (rng.standard_normal(shape) * (2.0 / max(fan_in, 1)) ** 0.5).astype(dtype)
