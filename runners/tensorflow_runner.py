"""TensorFlow/Keras runner: study 000's eight Keras workloads (train and inference), or your model.

    python tensorflow_runner.py --model mnist_2d --batch 64 --opt phase=both
    python tensorflow_runner.py --model saved_model_dir/        (a SavedModel folder)
    python tensorflow_runner.py --model model.keras             (or .h5)
    python tensorflow_runner.py --list-models

Built-in models have random weights and synthetic data of the right shapes (see
_keras_models.py). A ``--model`` that names an existing folder is loaded with
``tf.saved_model.load`` (its ``serving_default`` signature); an existing file with
``keras.models.load_model``.

Options (--opt key=value):
    phase=infer|train|both  infer (default); train: model.train_on_batch per timed step for
                            the study's epochs; both: train, then infer with the trained model
    epochs=N                training epochs (default: the study's)
    steps_per_epoch=N       training steps per epoch (default: the study's, or its training-set
                            size / --batch)
    infer_mode=function|eager|predict
                            function (default): a tf.function around model(x, training=False),
                            traced by the first inference; eager: model(x, training=False) every
                            call (Python dispatch per layer); predict: model.predict(x) as Keras
                            users call it (per-call set-up, like the study's evaluate)
    device=cpu|gpu|gpu:N    where the model runs (default cpu)
    inter_op_threads=N      TensorFlow's inter-op pool (default: TensorFlow's choice)
    input_shape=AxBxC[,..]  user models: input shape(s) where the model leaves dimensions open; the
                            first dimension is the batch and is replaced by --batch
    dtype=NAME[,..]         user models: input dtype(s) (default: the model's)

Timing: one inference iteration is a whole batch from the input tensor to the output as
a numpy array on the host; one training iteration is one train_on_batch call (forward,
backward, optimizer update, loss fetched). --threads sets TensorFlow's intra-op pool.
Latency rows carry no phase: the "phase" events (name "train" / "inference") mark where
each begins. --iterations and the monitor's set_rate cap apply to the inference phase;
--duration counts from the first training step; an "epoch" event follows every epoch.
"""

import os
import sys

if __package__:
    from . import _common
    from . import _keras_models
    from . import _model_files
    from . import _protocol
else:  # started as a script
    import _common
    import _keras_models
    import _model_files
    import _protocol

RUNNER = "tensorflow"
ACCEPTS_MODEL_FILES = True
MISSING = "TensorFlow is not installed: pip install tensorflow (x86 without a GPU: tensorflow-cpu)"

MODELS = _keras_models.CATALOGUE

OPTIONS = {
    "phase": "infer, train or both",
    "epochs": "training epochs",
    "steps_per_epoch": "training steps per epoch",
    "infer_mode": "function, eager or predict",
    "device": "cpu, gpu or gpu:N",
    "inter_op_threads": "TensorFlow inter-op threads",
    "input_shape": "user models: input shape(s) like 1x224x224x3[,1x10]; the first dimension becomes --batch",
    "dtype": "user models: input dtype(s) like float32[,int32]",
}
# What each option is when not given (`edgemon models --runner tensorflow` prints both).
OPTION_DEFAULTS = {"phase": "infer", "epochs": "the study's", "steps_per_epoch": "the study's",
                   "infer_mode": "function", "device": "cpu", "inter_op_threads": "TensorFlow's choice",
                   "input_shape": "the model's", "dtype": "the model's"}

_NEVER = 1 << 62


class TrainPlan(object):
    """What the training phase runs: ``step()`` is one timed train_on_batch, returning the loss."""

    def __init__(self, step, epochs, steps_per_epoch):
        self.step = step
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch


def _import_tf():
    # Keras 3 follows KERAS_BACKEND; this runner is TensorFlow's, whatever the user's shell says.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # INFO chatter off; warnings and errors stay
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise _common.RunnerError("%s (%s)" % (MISSING, exc))
    return tf


def _int_opt(opts, key, default):
    return _common.int_option(opts, key, default, 1, expected="a whole number")


def _device(tf, text):
    """``(tf device name, text for the hello)``; a GPU that is not there is an error result."""
    kind, index = _common.device_option(text, "gpu")
    text = (text or "cpu").strip().lower()
    if kind == "cpu":
        return "/CPU:0", "cpu"
    index = index or 0
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise RuntimeError("--opt device=%s: TensorFlow %s sees no GPU (%s); use --opt device=cpu"
                           % (text, tf.__version__,
                              "built with CUDA" if tf.test.is_built_with_cuda() else "a CPU-only build"))
    if not 0 <= index < len(gpus):
        raise RuntimeError("--opt device=%s: only %d GPU(s) (gpu:0..gpu:%d)" % (text, len(gpus), len(gpus) - 1))
    return "/GPU:%d" % index, "gpu:%d" % index


def _shapes(text, batch):
    return _common.input_shapes(text, batch, "1x224x224x3")


def _resolve_inputs(np, rng, args, names, specs):
    """Random arrays for a user model whose inputs are ``specs`` = [(shape with None, dtype name)]."""
    opts = args.opts
    given = _shapes(opts["input_shape"], args.batch) if opts.get("input_shape") else None
    if given is not None and len(given) != len(specs):
        raise ValueError("--opt input_shape=%s: the model has %d input(s)" % (opts["input_shape"], len(specs)))
    dtypes = [d for _, d in specs]
    if opts.get("dtype"):
        dtypes = [d.strip() for d in opts["dtype"].split(",")]
        if len(dtypes) == 1:
            dtypes = dtypes * len(specs)
        if len(dtypes) != len(specs):
            raise ValueError("--opt dtype=%s: the model has %d input(s)" % (opts["dtype"], len(specs)))
    arrays = []
    for i, (shape, _) in enumerate(specs):
        if given is not None:
            shape = given[i]
        else:
            shape = [args.batch] + list(shape[1:]) if shape else []
            if any(d is None for d in shape):
                raise ValueError("input %r has open dimensions %s; give them with --opt input_shape=%s"
                                 % (names[i], shape, "x".join(str(d or "N") for d in shape)))
        arrays.append(_common.random_input(np, rng, shape, dtypes[i]))
    return arrays


def _load_user_model(tf, np, rng, args):
    """``(model or run callable, input names, input arrays, params, source)``.

    A SavedModel folder gives a ready ``run`` (its serving signature is already a graph);
    a Keras model file gives the model, wrapped by :func:`_infer_run` like a built-in one.
    """
    path = args.model
    if os.path.isdir(path):
        loaded = tf.saved_model.load(path)
        signatures = getattr(loaded, "signatures", {})
        if "serving_default" not in signatures:
            raise ValueError("%s: the SavedModel has no serving_default signature (it has: %s)"
                             % (path, ", ".join(sorted(signatures)) or "none"))
        fn = signatures["serving_default"]
        spec = fn.structured_input_signature[1]
        names = sorted(spec)
        specs = [(spec[n].shape.as_list() if spec[n].shape.rank is not None else [], spec[n].dtype.name)
                 for n in names]
        arrays = _resolve_inputs(np, rng, args, names, specs)
        tensors = dict((n, tf.constant(a)) for n, a in zip(names, arrays))
        # the variables the serving graph captures (non-trainable ones too: counted as weights)
        params = sum(int(np.prod(v.shape)) for v in fn.variables)

        def run():
            return _to_numpy(list(fn(**tensors).values()))

        keep = loaded  # the signature needs its object alive
        run.keep = keep
        return run, names, arrays, params or None, "saved_model"
    keras = tf.keras
    model = keras.models.load_model(path, compile=False)
    names = [getattr(t, "name", "input%d" % i) for i, t in enumerate(model.inputs)]
    specs = [(list(t.shape), _dtype_name(t.dtype)) for t in model.inputs]
    arrays = _resolve_inputs(np, rng, args, names, specs)
    return model, names, arrays, int(model.count_params()), "keras_file"


def _dtype_name(dtype):
    return getattr(dtype, "name", None) or str(dtype)


def _infer_run(tf, model, arrays, mode, batch):
    """One inference iteration: the whole batch, output as numpy on the host."""
    tensors = [tf.constant(a) for a in arrays]
    args = tensors[0] if len(tensors) == 1 else tensors
    if mode == "function":
        # tf.function: one graph call per iteration instead of a Python dispatch per layer;
        # it is traced by the first call, which is what first_inference_ms then includes.
        step = tf.function(lambda x: model(x, training=False))

        def run():
            return _to_numpy(step(args))
    elif mode == "eager":
        def run():
            return _to_numpy(model(args, training=False))
    else:  # predict: Keras' own loop, with its per-call data adapter and callbacks
        feed = arrays[0] if len(arrays) == 1 else arrays

        def run():
            return model.predict(feed, batch_size=batch, verbose=0)
    return run


def _to_numpy(out):
    """The output on the host: a tensor's .numpy() waits for it (and copies it from a GPU)."""
    numpy = getattr(out, "numpy", None)
    if numpy is not None:
        return numpy()
    if isinstance(out, dict):
        return dict((k, _to_numpy(v)) for k, v in out.items())
    if isinstance(out, (list, tuple)):
        return [_to_numpy(o) for o in out]
    return out


def _train_plan(tf, keras, model, name, args, rng):
    spec = MODELS[name]["train"]
    model.compile(optimizer=keras.optimizers.RMSprop(), loss=spec["loss"])
    x = _keras_models.make_input(name, args.batch, rng)
    y = _keras_models.make_labels(name, args.batch, rng)
    epochs = _int_opt(args.opts, "epochs", spec["epochs"])
    steps = _int_opt(args.opts, "steps_per_epoch", _keras_models.steps_per_epoch(name, args.batch))
    train_on_batch = model.train_on_batch

    def step():
        return train_on_batch(x, y)

    return TrainPlan(step, epochs, steps)


def validate(spec):
    """A one-line problem with ``spec`` before any worker starts, or None (no framework imported)."""
    return _model_files.problem_with(spec, MODELS, RUNNER, lambda s: _check_args(s.model, s.options),
                                     _model_files.check_keras)


def _check_args(model, opts):
    """Everything about the command line that needs no TensorFlow: fails fast, and where TF is absent."""
    _common.check_known_options(opts, OPTIONS, "tensorflow")
    _common.device_option(opts.get("device"), "gpu")
    phase = opts.get("phase", "infer")
    if phase not in ("infer", "train", "both"):
        raise ValueError("--opt phase=%s: use infer, train or both" % phase)
    mode = opts.get("infer_mode", "function")
    if mode not in ("function", "eager", "predict"):
        raise ValueError("--opt infer_mode=%s: use function, eager or predict" % mode)
    if model not in MODELS:
        if not os.path.exists(model):
            raise ValueError("unknown model %r: neither a built-in model (%s) nor an existing file or "
                             "SavedModel folder" % (model, ", ".join(sorted(MODELS))))
        if phase != "infer":
            raise ValueError("--opt phase=%s: training needs a built-in model (%s); user models only infer"
                             % (phase, ", ".join(sorted(MODELS))))
        if os.path.isdir(model) and mode != "function":
            raise ValueError("--opt infer_mode=%s: a SavedModel runs its serving signature (a graph); "
                             "leave infer_mode at function" % mode)
    _int_opt(opts, "epochs", None)
    _int_opt(opts, "steps_per_epoch", None)
    _int_opt(opts, "inter_op_threads", None)
    return phase, mode


def build(args):
    phase, mode = _check_args(args.model, args.opts)
    tf = _import_tf()
    import numpy as np

    opts = args.opts
    # Thread pools can only be sized before TensorFlow starts its runtime: first thing.
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    inter = _int_opt(opts, "inter_op_threads", None)
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    tf_device, device_text = _device(tf, opts.get("device"))
    # Stays entered for this (the only) thread, so build, tracing and every call are placed there.
    tf.device(tf_device).__enter__()
    keras = tf.keras
    if hasattr(keras.utils, "set_random_seed"):
        keras.utils.set_random_seed(args.seed)
    else:
        tf.random.set_seed(args.seed)
    rng = np.random.RandomState(args.seed)

    plan = None
    if args.model in MODELS:
        model = _keras_models.build_model(keras, args.model)
        names = ["input"]
        arrays = [_keras_models.make_input(args.model, args.batch, rng)]
        params = int(model.count_params())
        source = "builtin"
        gflops = MODELS[args.model]["gflops"]
        if phase in ("train", "both"):
            plan = _train_plan(tf, keras, model, args.model, args, rng)
    else:
        model, names, arrays, params, source = _load_user_model(tf, np, rng, args)
        gflops = None

    if phase == "train":
        run = None
    elif source == "saved_model":
        run = model
    else:
        run = _infer_run(tf, model, arrays, mode, args.batch)

    info = {
        "phase": phase,
        "infer_mode": mode if phase != "train" else None,
        "model_source": source,
        "keras_version": getattr(keras, "__version__", None) or getattr(keras, "version", lambda: None)(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    if plan is not None:
        info["epochs"] = plan.epochs
        info["steps_per_epoch"] = plan.steps_per_epoch
    if source != "builtin":
        info["model_path"] = os.path.abspath(args.model)
    result = _common.Model(run, inputs=[_common.input_info(n, a) for n, a in zip(names, arrays)],
                           params=params, device=device_text, framework_version=tf.__version__,
                           gflops=gflops, info=info)
    result.train = plan
    return result


class PhasedSession(_common._Session):
    """_common's session with a training phase before (or instead of) its timed inference loop.

    The training loop is driven here with _common's row buffer (RawRows) and control; the
    inference phase is _common's own timed loop (warm-up, first inference, rate cap).
    """

    def __init__(self, *args):
        super(PhasedSession, self).__init__(*args)
        self.train_steps = 0

    def can_stretch(self, model):
        return getattr(model, "train", None) is None   # training steps are timed by train(), not stretched

    def main(self):
        args = self.args
        writer = self.writer
        writer.event("phase", name="build")
        t_build = _protocol.monotonic_ns()
        try:
            model = self.build(args)
        except Exception as exc:
            return self.fail(exc, "build")
        writer.hello(self.hello_info(model, (_protocol.monotonic_ns() - t_build) / 1e6))
        self.buf = _common.RawRows(writer, args.batch)
        control = _protocol.Control()
        stage = "train"
        try:
            reason = None
            start = _protocol.monotonic_ns()
            if getattr(model, "train", None) is not None:
                reason = self.train(model.train, control, start)
            if reason is None and model.run is not None:
                stage = "run"
                if args.duration:  # what the training phase left of the session's duration
                    args.duration -= (_protocol.monotonic_ns() - start) / 1e9
                    if args.duration <= 0:
                        reason = "duration"
                if reason is None:
                    writer.event("phase", name="inference")
                    reason = self.loop(model.run, control)
            reason = reason or "done"
        except KeyboardInterrupt:
            reason = "stopped"
        except Exception as exc:
            return self.fail(exc, stage)
        self.buf.flush()
        writer.bye(reason, iterations=self.train_steps + self.iterations)
        return _common.EXIT_OK

    def fail(self, exc, stage):
        self.iterations += self.train_steps
        self.train_steps = 0
        return super(PhasedSession, self).fail(exc, stage)

    def train(self, plan, ctrl, start):
        """Timed train_on_batch steps; ``None`` when all epochs ran, else the reason to end the session."""
        args = self.args
        writer = self.writer
        rows = self.buf
        now = _protocol.monotonic_ns
        clock, to_ns = rows.clock, rows.to_ns
        append = rows.raw.append
        step = plan.step
        writer.event("phase", name="train", epochs=plan.epochs, steps_per_epoch=plan.steps_per_epoch,
                     batch=args.batch)
        warmup_n = args.warmup_iters
        warmup_ns = int(args.warmup_seconds * 1e9)
        warming = warmup_n > 0 or warmup_ns > 0
        rows.set_warmup(warming)
        deadline = start + int(args.duration * 1e9) if args.duration else _NEVER
        n = 0
        first = None  # (start of the first step, its duration in ms)
        for epoch in range(1, plan.epochs + 1):
            e0 = now()
            loss = None
            for _ in range(plan.steps_per_epoch):
                c0 = clock()
                loss = step()
                c1 = clock()
                append(c0)
                append(c1)
                n += 1
                self.train_steps = n
                t1 = to_ns(c1)
                if first is None:
                    t0 = to_ns(c0)
                    first = (t0, (t1 - t0) / 1e6)
                    if not warming:
                        writer.event("warmup_done", t_ns=t1, phase="train", iterations=0, seconds=0.0,
                                     first_step_ms=first[1])
                if warming and n >= warmup_n and t1 - first[0] >= warmup_ns:
                    warming = False
                    rows.set_warmup(False)
                    writer.event("warmup_done", t_ns=t1, phase="train", iterations=n,
                                 seconds=(t1 - first[0]) / 1e9, first_step_ms=first[1])
                if t1 >= rows.next_flush:
                    rows.flush()
                if ctrl.stopped:
                    return "stopped"
                if t1 >= deadline:
                    return "duration"
                if ctrl.paused:
                    rows.flush()
                    writer.event("pause", iterations=n)
                    ctrl.wait_while_paused()
                    if ctrl.stopped:
                        return "stopped"
                    writer.event("resume", iterations=n)
            rows.flush()  # the epoch's rows go out before its event
            writer.event("epoch", epoch=epoch, epochs=plan.epochs, steps=plan.steps_per_epoch,
                         seconds=(now() - e0) / 1e9, loss=_loss_value(loss))
        return None


def _loss_value(loss):
    if isinstance(loss, (list, tuple)):
        loss = loss[0] if loss else None
    try:
        return float(loss)
    except (TypeError, ValueError):
        return None


def main(argv=None):
    return _common.run_main(RUNNER, "tensorflow", MODELS, build, argv, session_class=PhasedSession)


if __name__ == "__main__":
    sys.exit(main())
