"""Study 000's eight Keras workloads (Blanz 2019, from Chollet's book) for the tensorflow runner.

Layer specs and parameter counts as in W. E. Blanz, "Benchmarking NVIDIA's Jetson Nano for Deep
Learning Applications" (engineering report, rev. A1, 2019), which took the models from F. Chollet,
"Deep Learning with Python" (Manning, 2017; https://github.com/fchollet/deep-learning-with-python-notebooks);
the tests check the parameter counts. Random weights
(Keras' default initialisers, seeded) and synthetic data of the right shapes. The GRUs
use ``reset_after=False``, the Keras 2.2 GRU the study ran (one bias per gate): that is
what makes 5,217 and 14,817 parameters (Keras' newer default would give 5,313 / 14,913).

Training follows the study: RMSprop, the book's losses, its epochs and batch sizes.
Labels are sparse integer classes (``sparse_categorical_crossentropy``) where the book
one-hot encoded them; the cost of a step is the same. An epoch is ``samples / batch``
steps of the book's training-set size, or the book's fixed ``steps_per_epoch``.

Python 3.6 syntax; TensorFlow is imported only inside functions. ``gflops``: 2 x the
multiply-accumulates of one forward pass per item (conv, dense, recurrent layers),
the torch runner's convention; equal to its values for the same architectures.
"""

# name -> catalogue entry (input_shape excludes the batch dimension; images are NHWC)
CATALOGUE = {
    "mnist_1d": {
        "input_shape": [784], "input_dtype": "float32", "params": 407050, "gflops": 0.000813056,
        "phases": ["train", "infer"],
        "train": {"epochs": 5, "batch": 128, "samples": 60000, "loss": "sparse_categorical_crossentropy"},
        "description": "study 000 MNIST 1D: Dense 512 relu -> Dense 10 softmax on 784-vectors",
    },
    "imdb_dense": {
        "input_shape": [10000], "input_dtype": "float32", "params": 160305, "gflops": 0.000320544,
        "phases": ["train", "infer"],
        "train": {"epochs": 4, "batch": 512, "samples": 25000, "loss": "binary_crossentropy"},
        "description": "study 000 IMDB: Dense 16 relu -> 16 relu -> 1 sigmoid on 10000-word multi-hot vectors",
    },
    "reuters_dense": {
        "input_shape": [10000], "input_dtype": "float32", "params": 647214, "gflops": 0.00129408,
        "phases": ["train", "infer"],
        "train": {"epochs": 9, "batch": 512, "samples": 7982, "loss": "sparse_categorical_crossentropy"},
        "description": "study 000 Reuters: Dense 64 relu -> 64 relu -> 46 softmax on 10000-word multi-hot vectors",
    },
    "mnist_2d": {
        "input_shape": [28, 28, 1], "input_dtype": "float32", "params": 93322, "gflops": 0.00558848,
        "phases": ["train", "infer"],
        "train": {"epochs": 5, "batch": 64, "samples": 60000, "loss": "sparse_categorical_crossentropy"},
        "description": "study 000 MNIST 2D convnet: Conv 32 -> pool -> Conv 64 -> pool -> Conv 64 -> "
                       "Dense 64 -> Dense 10 on 28x28x1",
    },
    "dogs_cats": {
        "input_shape": [150, 150, 3], "input_dtype": "float32", "params": 3453121, "gflops": 0.472190976,
        "phases": ["train", "infer"],
        "train": {"epochs": 15, "batch": 20, "steps_per_epoch": 100, "loss": "binary_crossentropy"},
        "description": "study 000 Dogs vs Cats convnet: Conv 32/64/128/128 + pools -> Dense 512 -> "
                       "Dense 1 sigmoid on 150x150x3",
    },
    "imdb_embedding": {
        "input_shape": [50], "input_dtype": "int32", "params": 80401, "gflops": 8e-07,
        "phases": ["train", "infer"],
        "train": {"epochs": 10, "batch": 32, "samples": 20000, "loss": "binary_crossentropy"},
        "description": "study 000 IMDB embedded: Embedding(10000, 8) on 50 token ids -> Flatten -> "
                       "Dense 1 sigmoid",
    },
    "mpi_weather_gru": {
        "input_shape": [240, 21], "input_dtype": "float32", "params": 5217, "gflops": 0.002442304,
        "phases": ["train", "infer"],
        "train": {"epochs": 10, "batch": 128, "steps_per_epoch": 500, "loss": "mae"},
        "description": "study 000 MPI weather: GRU 32 (reset_after=False) -> Dense 1 on 240 steps x 21 features",
    },
    "mpi_weather_conv": {
        "input_shape": [240, 21], "input_dtype": "float32", "params": 14817, "gflops": 0.003253056,
        "phases": ["train", "infer"],
        "train": {"epochs": 20, "batch": 128, "steps_per_epoch": 500, "loss": "mae"},
        "description": "study 000 MPI weather conv: Conv1D 32 k5 -> MaxPool1D 3 -> Conv1D 32 k5 -> "
                       "GRU 32 (dropout 0.1, recurrent 0.5) -> Dense 1 on 240 steps x 21 features",
    },
}


def build_model(keras, name):
    """A freshly initialised, uncompiled Keras model (``keras`` = tf.keras or Keras 3)."""
    L = keras.layers
    shape = tuple(CATALOGUE[name]["input_shape"])
    if name == "mnist_1d":
        layers = [L.Dense(512, activation="relu"), L.Dense(10, activation="softmax")]
    elif name == "imdb_dense":
        layers = [L.Dense(16, activation="relu"), L.Dense(16, activation="relu"), L.Dense(1, activation="sigmoid")]
    elif name == "reuters_dense":
        layers = [L.Dense(64, activation="relu"), L.Dense(64, activation="relu"), L.Dense(46, activation="softmax")]
    elif name == "mnist_2d":
        layers = [L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                  L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                  L.Conv2D(64, (3, 3), activation="relu"),
                  L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")]
    elif name == "dogs_cats":
        layers = []
        for filters in (32, 64, 128, 128):
            layers += [L.Conv2D(filters, (3, 3), activation="relu"), L.MaxPooling2D((2, 2))]
        layers += [L.Flatten(), L.Dense(512, activation="relu"), L.Dense(1, activation="sigmoid")]
    elif name == "imdb_embedding":
        layers = [L.Embedding(10000, 8), L.Flatten(), L.Dense(1, activation="sigmoid")]
    elif name == "mpi_weather_gru":
        layers = [L.GRU(32, reset_after=False), L.Dense(1)]
    elif name == "mpi_weather_conv":
        layers = [L.Conv1D(32, 5, activation="relu"), L.MaxPooling1D(3),
                  L.Conv1D(32, 5, activation="relu"),
                  L.GRU(32, dropout=0.1, recurrent_dropout=0.5, reset_after=False), L.Dense(1)]
    else:
        raise ValueError("unknown model %r; choose one of: %s" % (name, ", ".join(sorted(CATALOGUE))))
    dtype = CATALOGUE[name]["input_dtype"]
    return keras.Sequential([keras.Input(shape=shape, dtype=dtype)] + layers, name=name)


def make_input(name, batch, rng):
    """Random input of the model's shape and dtype (numpy): see _torch_models.make_input."""
    import numpy as np

    shape = [batch] + list(CATALOGUE[name]["input_shape"])
    if name == "imdb_embedding":
        return rng.randint(0, 10000, size=shape).astype(np.int32)
    if name in ("imdb_dense", "reuters_dense"):
        return (rng.random_sample(shape) < 0.01).astype(np.float32)
    if name.startswith("mpi_weather"):
        return rng.standard_normal(shape).astype(np.float32)
    return rng.random_sample(shape).astype(np.float32)


def make_labels(name, batch, rng):
    """Synthetic targets for the model's loss: class ids, 0/1 labels or temperatures."""
    import numpy as np

    loss = CATALOGUE[name]["train"]["loss"]
    if loss == "sparse_categorical_crossentropy":
        classes = 10 if name.startswith("mnist") else 46
        return rng.randint(0, classes, size=(batch,)).astype(np.int32)
    if loss == "binary_crossentropy":
        return rng.randint(0, 2, size=(batch, 1)).astype(np.float32)
    return rng.standard_normal((batch, 1)).astype(np.float32)


def steps_per_epoch(name, batch):
    """The book's steps per epoch, or its training-set size over ``batch`` (rounded up)."""
    train = CATALOGUE[name]["train"]
    if "steps_per_epoch" in train:
        return train["steps_per_epoch"]
    return -(-train["samples"] // batch)
