"""Built-in PyTorch models for the torch runner, with random weights.

Study 000's eight Keras workloads (Blanz 2019; layer specs and sources in _keras_models.py)
rebuilt layer by layer, plus MobileNetV2, ResNet-18 and
ResNet-50 written out here (torchvision's architectures, so no torchvision needed).

Python 3.6 syntax; torch is imported only inside functions, so the catalogue can be
read (``edgemon info``, ``--list-models``) where PyTorch is not installed.

Parameter counts equal the Keras originals except for the two GRU models: PyTorch's
GRU keeps two bias vectors per gate (b_ih and b_hh, Keras' ``reset_after=True``
form), while the 2019 Keras GRU had one (``reset_after=False``). That adds 3 x 32 = 96
parameters: mpi_weather_gru 5,313 (Keras 5,217), mpi_weather_conv 14,913 (Keras 14,817).
The catalogue states what the built PyTorch model really has.

``gflops`` is per batch item and counts 2 x the multiply-accumulates of convolution,
dense and recurrent layers (the same convention as the numpy runner; bias adds,
activations, pooling and normalisation are left out). :func:`count_gflops` computes
it from a built model and the tests hold the catalogue to it.
"""

# name -> catalogue entry (input_shape excludes the batch dimension; images are NCHW)
CATALOGUE = {
    "mnist_1d": {
        "input_shape": [784], "input_dtype": "float32", "params": 407050, "gflops": 0.000813056,
        "keras_params": 407050, "phases": ["infer"],
        "description": "study 000 MNIST 1D: Dense 512 relu -> Dense 10 softmax on 784-vectors",
    },
    "imdb_dense": {
        "input_shape": [10000], "input_dtype": "float32", "params": 160305, "gflops": 0.000320544,
        "keras_params": 160305, "phases": ["infer"],
        "description": "study 000 IMDB: Dense 16 relu -> 16 relu -> 1 sigmoid on 10000-word multi-hot vectors",
    },
    "reuters_dense": {
        "input_shape": [10000], "input_dtype": "float32", "params": 647214, "gflops": 0.00129408,
        "keras_params": 647214, "phases": ["infer"],
        "description": "study 000 Reuters: Dense 64 relu -> 64 relu -> 46 softmax on 10000-word multi-hot vectors",
    },
    "mnist_2d": {
        "input_shape": [1, 28, 28], "input_dtype": "float32", "params": 93322, "gflops": 0.00558848,
        "keras_params": 93322, "phases": ["infer"],
        "description": "study 000 MNIST 2D convnet: Conv 32 -> pool -> Conv 64 -> pool -> Conv 64 -> "
                       "Dense 64 -> Dense 10 on 1x28x28",
    },
    "dogs_cats": {
        "input_shape": [3, 150, 150], "input_dtype": "float32", "params": 3453121, "gflops": 0.472190976,
        "keras_params": 3453121, "phases": ["infer"],
        "description": "study 000 Dogs vs Cats convnet: Conv 32/64/128/128 + pools -> Dense 512 -> "
                       "Dense 1 sigmoid on 3x150x150",
    },
    "imdb_embedding": {
        "input_shape": [50], "input_dtype": "int64", "params": 80401, "gflops": 8e-07,
        "keras_params": 80401, "phases": ["infer"],
        "description": "study 000 IMDB embedded: Embedding(10000, 8) on 50 token ids -> Flatten -> "
                       "Dense 1 sigmoid",
    },
    "mpi_weather_gru": {
        "input_shape": [240, 21], "input_dtype": "float32", "params": 5313, "gflops": 0.002442304,
        "keras_params": 5217, "phases": ["infer"],
        "description": "study 000 MPI weather: GRU 32 -> Dense 1 on 240 steps x 21 features "
                       "(PyTorch GRU: 96 more bias parameters than the Keras original's 5,217)",
    },
    "mpi_weather_conv": {
        "input_shape": [240, 21], "input_dtype": "float32", "params": 14913, "gflops": 0.003253056,
        "keras_params": 14817, "phases": ["infer"],
        "description": "study 000 MPI weather conv: Conv1D 32 k5 -> MaxPool1D 3 -> Conv1D 32 k5 -> GRU 32 "
                       "-> Dense 1 (PyTorch GRU: 96 more bias parameters than the Keras original's 14,817)",
    },
    "mobilenet_v2": {
        "input_shape": [3, 224, 224], "input_dtype": "float32", "params": 3504872, "gflops": 0.601548544,
        "phases": ["infer"],
        "description": "MobileNetV2 (width 1.0, 1000 classes, torchvision layout) on 3x224x224",
    },
    "resnet18": {
        "input_shape": [3, 224, 224], "input_dtype": "float32", "params": 11689512, "gflops": 3.628146688,
        "phases": ["infer"],
        "description": "ResNet-18 (1000 classes, torchvision layout) on 3x224x224",
    },
    "resnet50": {
        "input_shape": [3, 224, 224], "input_dtype": "float32", "params": 25557032, "gflops": 8.178368512,
        "phases": ["infer"],
        "description": "ResNet-50 v1.5 (stride on the 3x3 conv, 1000 classes, torchvision layout) on 3x224x224",
    },
}


def build_model(name):
    """A freshly initialised ``torch.nn.Module`` (train mode; the caller sets eval/device/dtype)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError("unknown model %r; choose one of: %s" % (name, ", ".join(sorted(CATALOGUE))))
    return factory()


def make_input(name, batch, rng):
    """Random input of the model's shape and dtype as a numpy array (study 003: synthetic data).

    Images and sequences: uniform floats in [0, 1) (weather: standard normal, the book normalises
    it); token ids: integers in [0, 10000); multi-hot word vectors: 0/1 with ~1 % ones.
    """
    import numpy as np

    entry = CATALOGUE[name]
    shape = [batch] + list(entry["input_shape"])
    if name == "imdb_embedding":
        return rng.randint(0, 10000, size=shape).astype(np.int64)
    if name in ("imdb_dense", "reuters_dense"):
        return (rng.random_sample(shape) < 0.01).astype(np.float32)
    if name.startswith("mpi_weather"):
        return rng.standard_normal(shape).astype(np.float32)
    return rng.random_sample(shape).astype(np.float32)


def count_params(module):
    return int(sum(p.numel() for p in module.parameters()))


def count_gflops(module, example):
    """2 x multiply-accumulates of Conv/Linear/GRU layers for one forward of ``example``, per batch item."""
    import torch
    from torch import nn

    total = [0]

    def conv_hook(mod, inputs, output):
        kernel = 1
        for k in mod.kernel_size:
            kernel *= k
        total[0] += 2 * output.numel() * (mod.in_channels // mod.groups) * kernel

    def linear_hook(mod, inputs, output):
        total[0] += 2 * output.numel() * mod.in_features

    def gru_hook(mod, inputs, output):
        x = inputs[0]
        steps = x.shape[1] if mod.batch_first else x.shape[0]
        batch = x.shape[0] if mod.batch_first else x.shape[1]
        h = mod.hidden_size
        total[0] += 2 * batch * steps * 3 * h * (mod.input_size + h) * mod.num_layers

    handles = []
    for mod in module.modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(linear_hook))
        elif isinstance(mod, nn.GRU):
            handles.append(mod.register_forward_hook(gru_hook))
    try:
        with torch.no_grad():
            module(example)
    finally:
        for handle in handles:
            handle.remove()
    return total[0] / float(example.shape[0]) / 1e9


# ---------------------------------------------------------------- study 000 (Keras originals)

def _mnist_1d():
    from torch import nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10), nn.Softmax(dim=1))


def _imdb_dense():
    from torch import nn
    return nn.Sequential(nn.Linear(10000, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 1), nn.Sigmoid())


def _reuters_dense():
    from torch import nn
    return nn.Sequential(nn.Linear(10000, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 46), nn.Softmax(dim=1))


def _mnist_2d():
    from torch import nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))


def _dogs_cats():
    from torch import nn
    layers = []
    c_in = 3
    for c_out in (32, 64, 128, 128):
        layers += [nn.Conv2d(c_in, c_out, 3), nn.ReLU(), nn.MaxPool2d(2)]
        c_in = c_out
    layers += [nn.Flatten(), nn.Linear(6272, 512), nn.ReLU(), nn.Linear(512, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def _imdb_embedding():
    from torch import nn
    return nn.Sequential(nn.Embedding(10000, 8), nn.Flatten(), nn.Linear(50 * 8, 1), nn.Sigmoid())


def _weather(conv):
    from torch import nn

    class Weather(nn.Module):
        """(batch, 240 steps, 21 features) -> one temperature; Keras' GRU returns the last state."""

        def __init__(self):
            super(Weather, self).__init__()
            if conv:  # Conv1D over time: PyTorch wants (batch, channels, steps)
                self.conv = nn.Sequential(nn.Conv1d(21, 32, 5), nn.ReLU(), nn.MaxPool1d(3),
                                          nn.Conv1d(32, 32, 5), nn.ReLU())
            else:
                self.conv = None
            # Keras' dropout=0.1/recurrent_dropout=0.5 only act in training; nn.GRU has no such option.
            self.gru = nn.GRU(32 if conv else 21, 32, batch_first=True)
            self.fc = nn.Linear(32, 1)

        def forward(self, x):
            if self.conv is not None:
                x = self.conv(x.transpose(1, 2)).transpose(1, 2)
            _, h = self.gru(x)
            return self.fc(h[-1])

    return Weather()


# ---------------------------------------------------------------- ImageNet classifiers

def _conv_bn(nn, c_in, c_out, kernel, stride=1, groups=1, act=None):
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


def _resnet(block, layers):
    from torch import nn

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, c_in, width, stride, downsample):
            super(BasicBlock, self).__init__()
            self.body = nn.Sequential(_conv_bn(nn, c_in, width, 3, stride, act=nn.ReLU),
                                      _conv_bn(nn, width, width, 3))
            self.downsample = downsample
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(self.body(x) + identity)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, c_in, width, stride, downsample):
            super(Bottleneck, self).__init__()
            self.body = nn.Sequential(_conv_bn(nn, c_in, width, 1, act=nn.ReLU),
                                      _conv_bn(nn, width, width, 3, stride, act=nn.ReLU),
                                      _conv_bn(nn, width, width * 4, 1))
            self.downsample = downsample
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(self.body(x) + identity)

    kind = BasicBlock if block == "basic" else Bottleneck
    stages = []
    c_in = 64
    for i, n_blocks in enumerate(layers):
        width = 64 * 2 ** i
        stride = 1 if i == 0 else 2
        blocks = []
        for j in range(n_blocks):
            c_out = width * kind.expansion
            s = stride if j == 0 else 1
            down = _conv_bn(nn, c_in, c_out, 1, s) if (s != 1 or c_in != c_out) else None
            blocks.append(kind(c_in, width, s, down))
            c_in = c_out
        stages.append(nn.Sequential(*blocks))
    model = nn.Sequential(
        _conv_bn(nn, 3, 64, 7, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1),
        nn.Sequential(*stages),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 1000))
    _init_like_torchvision(nn, model)
    return model


def _mobilenet_v2():
    from torch import nn

    class InvertedResidual(nn.Module):
        def __init__(self, c_in, c_out, stride, expand):
            super(InvertedResidual, self).__init__()
            hidden = c_in * expand
            layers = []
            if expand != 1:
                layers.append(_conv_bn(nn, c_in, hidden, 1, act=nn.ReLU6))
            layers += [_conv_bn(nn, hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
                       _conv_bn(nn, hidden, c_out, 1)]
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and c_in == c_out

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    # t (expansion), c (channels), n (repeats), s (stride of the first) -- width multiplier 1.0
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    features = [_conv_bn(nn, 3, 32, 3, 2, act=nn.ReLU6)]
    c_in = 32
    for t, c, n, s in settings:
        for i in range(n):
            features.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
            c_in = c
    features.append(_conv_bn(nn, c_in, 1280, 1, act=nn.ReLU6))
    model = nn.Sequential(nn.Sequential(*features), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Dropout(0.2), nn.Linear(1280, 1000))
    _init_like_torchvision(nn, model)
    return model


def _init_like_torchvision(nn, model):
    """He-normal convolutions and unit BatchNorm keep random-weight activations finite through 50 layers."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


_FACTORIES = {
    "mnist_1d": _mnist_1d,
    "imdb_dense": _imdb_dense,
    "reuters_dense": _reuters_dense,
    "mnist_2d": _mnist_2d,
    "dogs_cats": _dogs_cats,
    "imdb_embedding": _imdb_embedding,
    "mpi_weather_gru": lambda: _weather(conv=False),
    "mpi_weather_conv": lambda: _weather(conv=True),
    "mobilenet_v2": _mobilenet_v2,
    "resnet18": lambda: _resnet("basic", [2, 2, 2, 2]),
    "resnet50": lambda: _resnet("bottleneck", [3, 4, 6, 3]),
}
