"""Write the built-in models (``_model_defs``) as TFLite flatbuffers, float32 or fully quantised.

No TensorFlow converter is needed: the graph is written directly with the TFLite
schema's flatbuffer object API, which ships with ai-edge-litert
(``ai_edge_litert.schema_py_generated``) and with TensorFlow
(``tensorflow.lite.python.schema_py_generated``). tflite_runtime does not ship it,
so on a board with only tflite_runtime make the files elsewhere with
``scripts/make_models.py`` and copy the cache folder over.

Quantised variants (``int8``: TFLite's full-integer scheme, symmetric per-channel
weights; ``uint8``: the older asymmetric scheme Edge TPU compilers also take) use
fixed activation ranges instead of calibration: the weights are random anyway, the
point is the integer kernels and the input/output types. Batch is dynamic
(shape_signature -1), so the runner resizes inputs to ``--batch``.
"""

import importlib

if __package__:
    from . import _model_defs
else:
    import _model_defs

QUANTS = ("float32", "int8", "uint8")
GENERATOR_VERSION = 1

_SCHEMAS = ("ai_edge_litert.schema_py_generated", "tensorflow.lite.python.schema_py_generated")

# Fixed real-valued ranges per activation (no calibration; see module doc)
_RANGES = {"input": (0.0, 1.0), "relu": (0.0, 8.0), "relu6": (0.0, 6.0), None: (-8.0, 8.0),
           "softmax": (0.0, 1.0), "sigmoid": (0.0, 1.0)}


def schema():
    """The TFLite schema module (flatbuffer object API); RuntimeError saying what to install."""
    errors = []
    for name in _SCHEMAS:
        try:
            return importlib.import_module(name)
        except Exception as exc:  # ImportError, or a broken TensorFlow install
            errors.append("%s (%s)" % (name, exc))
    raise RuntimeError("writing built-in TFLite models needs the TFLite flatbuffer schema from ai-edge-litert "
                       "or tensorflow (pip install ai-edge-litert), or model files made elsewhere with "
                       "scripts/make_models.py; tried: " + "; ".join(errors))


class _Writer(object):
    def __init__(self, S, np, quant):
        self.S = S
        self.np = np
        self.quant = quant
        self.tensors = []
        self.buffers = [S.BufferT()]  # buffer 0 is the empty sentinel
        self.ops = []
        self.opcodes = []
        self._opcode_index = {}

    # ---- tensors

    def _type(self, dtype):
        T = self.S.TensorType
        return {"float32": T.FLOAT32, "int8": T.INT8, "uint8": T.UINT8, "int32": T.INT32}[dtype]

    def tensor(self, name, shape, dtype, data=None, quant=None, batch_dynamic=True):
        S = self.S
        t = S.TensorT()
        t.name = name
        t.shape = [int(d) for d in shape]
        if batch_dynamic and data is None:
            t.shapeSignature = [-1] + t.shape[1:]
        t.type = self._type(dtype)
        if data is not None:
            buf = S.BufferT()
            buf.data = self.np.frombuffer(self.np.ascontiguousarray(data).tobytes(), dtype=self.np.uint8)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        if quant is not None:
            q = S.QuantizationParametersT()
            scale, zero, axis = quant
            q.scale = [float(s) for s in scale]
            q.zeroPoint = [int(z) for z in zero]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def activation(self, name, shape, kind):
        """A float tensor, or a quantised one whose fixed range suits ``kind``."""
        if self.quant == "float32":
            return self.tensor(name, shape, "float32")
        if kind in ("softmax", "sigmoid"):  # the kernels require scale 1/256 here
            zero = -128 if self.quant == "int8" else 0
            return self.tensor(name, shape, self.quant, quant=([1.0 / 256], [zero], 0))
        lo, hi = _RANGES[kind]
        scale = (hi - lo) / 255.0
        qmin = -128 if self.quant == "int8" else 0
        zero = int(round(qmin - lo / scale))
        return self.tensor(name, shape, self.quant, quant=([scale], [zero], 0))

    def qparams(self, index):
        q = self.tensors[index].quantization
        return (q.scale[0], q.zeroPoint[0]) if q is not None else (None, None)

    def weights(self, name, w, in_index, per_channel_axis):
        """Constant weights + bias tensors (float, or quantised to the runner's scheme)."""
        np = self.np
        out_ch = w.shape[per_channel_axis]
        bias = np.zeros(out_ch, dtype=np.float32)
        if self.quant == "float32":
            return (self.tensor(name + "/w", w.shape, "float32", data=w),
                    self.tensor(name + "/b", bias.shape, "float32", data=bias))
        in_scale, _ = self.qparams(in_index)
        if self.quant == "int8":  # symmetric, per channel
            axes = tuple(i for i in range(w.ndim) if i != per_channel_axis)
            w_scale = np.maximum(np.abs(w).max(axis=axes), 1e-8) / 127.0
            shape = [1] * w.ndim
            shape[per_channel_axis] = out_ch
            qw = np.clip(np.round(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
            w_t = self.tensor(name + "/w", w.shape, "int8", data=qw,
                              quant=(list(w_scale), [0] * out_ch, per_channel_axis))
            b_scale = in_scale * w_scale
            b_t = self.tensor(name + "/b", bias.shape, "int32", data=np.zeros(out_ch, dtype=np.int32),
                              quant=(list(b_scale), [0] * out_ch, 0))
            return w_t, b_t
        # uint8: asymmetric per tensor, zero point 128
        w_scale = max(float(np.abs(w).max()), 1e-8) / 127.0
        qw = np.clip(np.round(w / w_scale) + 128, 0, 255).astype(np.uint8)
        w_t = self.tensor(name + "/w", w.shape, "uint8", data=qw, quant=([w_scale], [128], 0))
        b_t = self.tensor(name + "/b", bias.shape, "int32", data=np.zeros(out_ch, dtype=np.int32),
                          quant=([in_scale * w_scale], [0], 0))
        return w_t, b_t

    # ---- operators

    def op(self, code, inputs, outputs, options_type=0, options=None):
        S = self.S
        if code not in self._opcode_index:
            oc = S.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)  # 127 = "see builtinCode"
            oc.version = 1
            self.opcodes.append(oc)
            self._opcode_index[code] = len(self.opcodes) - 1
        o = S.OperatorT()
        o.opcodeIndex = self._opcode_index[code]
        o.inputs = list(inputs)
        o.outputs = list(outputs)
        if options is not None:
            o.builtinOptionsType = options_type
            o.builtinOptions = options
        self.ops.append(o)

    def fused(self, act):
        F = self.S.ActivationFunctionType
        return {"relu": F.RELU, "relu6": F.RELU6}.get(act, F.NONE)


def build(name, quant="float32", seed=0):
    """The flatbuffer bytes of built-in model ``name`` (batch 1, batch dimension dynamic)."""
    import numpy as np

    if quant not in QUANTS:
        raise ValueError("quantisation %r: use one of %s" % (quant, ", ".join(QUANTS)))
    S = schema()
    import flatbuffers

    B, O = S.BuiltinOperator, S.BuiltinOptions  # noqa: E741 - O mirrors the schema's BuiltinOptions, beside B
    rng = np.random.RandomState(seed)
    wr = _Writer(S, np, quant)
    in_shape = _model_defs.input_shape(name)
    x = wr.activation("input", [1] + in_shape, "input")
    graph_input = x
    for i, (layer, shape, out) in enumerate(_model_defs.walk(name)):
        kind = layer[0]
        tag = "%s%d" % (kind, i)
        if kind == "dense":
            units, act = layer[1], layer[2]
            w = _model_defs.he_weights(rng, (units, shape[-1]), shape[-1])
            wt, bt = wr.weights(tag, w, x, 0)
            fused_act = act if act in ("relu", "relu6") else None
            y = wr.activation(tag, [1, units], fused_act)
            opts = S.FullyConnectedOptionsT()
            opts.fusedActivationFunction = wr.fused(act)
            wr.op(B.FULLY_CONNECTED, [x, wt, bt], [y], O.FullyConnectedOptions, opts)
            x = y
            if act in ("softmax", "sigmoid"):
                y = wr.activation(tag + "/" + act, [1, units], act)
                if act == "softmax":
                    so = S.SoftmaxOptionsT()
                    so.beta = 1.0
                    wr.op(B.SOFTMAX, [x], [y], O.SoftmaxOptions, so)
                else:
                    wr.op(B.LOGISTIC, [x], [y])
                x = y
        elif kind in ("conv", "dwconv"):
            if kind == "conv":
                _, filters, k, stride, pad, act = layer
                w = _model_defs.he_weights(rng, (filters, k, k, shape[2]), k * k * shape[2])
                wt, bt = wr.weights(tag, w, x, 0)
                opts = S.Conv2DOptionsT()
                code, opt_type = B.CONV_2D, O.Conv2DOptions
            else:
                _, k, stride, pad, act = layer
                w = _model_defs.he_weights(rng, (1, k, k, shape[2]), k * k)
                wt, bt = wr.weights(tag, w, x, 3)
                opts = S.DepthwiseConv2DOptionsT()
                opts.depthMultiplier = 1
                code, opt_type = B.DEPTHWISE_CONV_2D, O.DepthwiseConv2DOptions
            opts.padding = S.Padding.SAME if pad == "same" else S.Padding.VALID
            opts.strideW = opts.strideH = stride
            opts.dilationWFactor = opts.dilationHFactor = 1
            opts.fusedActivationFunction = wr.fused(act)
            y = wr.activation(tag, [1] + list(out), act)
            wr.op(code, [x, wt, bt], [y], opt_type, opts)
            x = y
        elif kind == "maxpool":
            size = layer[1]
            q = wr.tensors[x].quantization
            y = wr.tensor(tag, [1] + list(out), quant if quant != "float32" else "float32",
                          quant=(q.scale, q.zeroPoint, 0) if q is not None else None)
            opts = S.Pool2DOptionsT()
            opts.padding = S.Padding.VALID
            opts.strideW = opts.strideH = opts.filterWidth = opts.filterHeight = size
            wr.op(B.MAX_POOL_2D, [x], [y], O.Pool2DOptions, opts)
            x = y
        elif kind == "gap":
            axes = wr.tensor(tag + "/axes", [2], "int32", data=np.array([1, 2], dtype=np.int32))
            q = wr.tensors[x].quantization
            y = wr.tensor(tag, [1] + list(out), quant if quant != "float32" else "float32",
                          quant=(q.scale, q.zeroPoint, 0) if q is not None else None)
            opts = S.ReducerOptionsT()
            opts.keepDims = False
            wr.op(B.MEAN, [x, axes], [y], O.ReducerOptions, opts)
            x = y
        elif kind == "flatten":
            new_shape = wr.tensor(tag + "/shape", [2], "int32", data=np.array([-1, out[0]], dtype=np.int32))
            q = wr.tensors[x].quantization
            y = wr.tensor(tag, [1] + list(out), quant if quant != "float32" else "float32",
                          quant=(q.scale, q.zeroPoint, 0) if q is not None else None)
            opts = S.ReshapeOptionsT()
            opts.newShape = [-1, out[0]]
            wr.op(B.RESHAPE, [x, new_shape], [y], O.ReshapeOptions, opts)
            x = y
    sg = S.SubGraphT()
    sg.tensors = wr.tensors
    sg.inputs = [graph_input]
    sg.outputs = [x]
    sg.operators = wr.ops
    sg.name = "main"
    model = S.ModelT()
    model.version = 3
    model.operatorCodes = wr.opcodes
    model.subgraphs = [sg]
    model.buffers = wr.buffers
    model.description = "edgemon built-in %s (%s, random weights, generator v%d)" % (name, quant, GENERATOR_VERSION)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
