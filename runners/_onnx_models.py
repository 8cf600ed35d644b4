"""Build the built-in models (``_model_defs``) as ONNX graphs with random weights.

Uses the ``onnx`` package's helper API (no torch, no download). For TensorRT, which
builds engines from ONNX, and for OpenVINO, which reads ONNX directly. Layout
NCHW, opset 13, IR version 8 (old enough for TensorRT 8.x on JetPack 4.6/5),
dynamic batch dimension named ``batch``.
"""

if __package__:
    from . import _model_defs
else:
    import _model_defs

OPSET = 13
IR_VERSION = 8
GENERATOR_VERSION = 1


def build(name, seed=0):
    """An ``onnx.ModelProto`` for built-in model ``name``."""
    import numpy as np

    try:
        import onnx
        from onnx import helper, numpy_helper, TensorProto
    except ImportError as exc:
        raise RuntimeError("building built-in ONNX models needs the onnx package (pip install onnx): %s" % exc)

    rng = np.random.RandomState(seed)
    nodes, inits = [], []
    counter = [0]

    def const(array, tag):
        counter[0] += 1
        tname = "%s_%d" % (tag, counter[0])
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), tname))
        return tname

    def node(op, inputs, tag, **attrs):
        counter[0] += 1
        out = "%s_%d" % (tag, counter[0])
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def activation(x, act):
        if act == "relu":
            return node("Relu", [x], "relu")
        if act == "relu6":
            return node("Clip", [x, const(np.array(0, np.float32), "lo"), const(np.array(6, np.float32), "hi")],
                        "relu6")
        if act == "softmax":
            return node("Softmax", [x], "softmax", axis=-1)
        if act == "sigmoid":
            return node("Sigmoid", [x], "sigmoid")
        return x

    shape = _model_defs.input_shape(name, channels_first=True)
    x = "input"
    for layer, in_shape, _out in _model_defs.walk(name):
        kind = layer[0]
        if kind == "dense":
            units, act = layer[1], layer[2]
            n_in = in_shape[-1]
            w = _model_defs.he_weights(rng, (n_in, units), n_in)
            x = node("Gemm", [x, const(w, "w"), const(np.zeros(units, np.float32), "b")], "dense")
            x = activation(x, act)
        elif kind in ("conv", "dwconv"):
            cin = in_shape[2]
            if kind == "conv":
                _, filters, k, stride, pad, act = layer
                w = _model_defs.he_weights(rng, (filters, cin, k, k), k * k * cin)
                group, cout = 1, filters
            else:
                _, k, stride, pad, act = layer
                w = _model_defs.he_weights(rng, (cin, 1, k, k), k * k)
                group, cout = cin, cin
            x = node("Conv", [x, const(w, "w"), const(np.zeros(cout, np.float32), "b")], "conv",
                     kernel_shape=[k, k], strides=[stride, stride], group=group,
                     auto_pad="SAME_UPPER" if pad == "same" else "VALID")
            x = activation(x, act)
        elif kind == "maxpool":
            size = layer[1]
            x = node("MaxPool", [x], "maxpool", kernel_shape=[size, size], strides=[size, size])
        elif kind == "gap":
            x = node("GlobalAveragePool", [x], "gap")
            x = node("Flatten", [x], "flatten", axis=1)
        elif kind == "flatten":
            x = node("Flatten", [x], "flatten", axis=1)
    nodes.append(helper.make_node("Identity", [x], ["output"]))
    out_shape = _model_defs.output_shape(name)
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch"] + shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch"] + out_shape)],
        initializer=inits)
    model = helper.make_model(graph, producer_name="edgemon",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = "edgemon built-in %s (random weights, generator v%d)" % (name, GENERATOR_VERSION)
    onnx.checker.check_model(model)
    return model
