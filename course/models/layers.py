"""Custom Keras layers the papers need and Keras does not ship.

Every layer is registered under the package name ``course`` and implements
``get_config``, so a model that uses it saves to ``.keras`` and loads back
(after ``import course.models``). Layers that do multiply-adds report them
through ``count_macs`` so that `course.arith.layer_macs` counts them.
"""
from __future__ import annotations

import math
from typing import Sequence

import keras
from keras import ops

register = keras.saving.register_keras_serializable(package="course")


def _numel(shape) -> int:
    """The number of values per example of a tensor of ``shape`` (batch first)."""
    return math.prod(int(d) for d in shape[1:])


@register
def lecun_tanh(x):
    """LeCun's squashing function f(a) = 1.7159 tanh(2a/3): f(1) = 1 and f(-1) = -1."""
    return 1.7159 * ops.tanh(2.0 / 3.0 * x)


@register
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's "brightness normalisation" across neighbouring channels.

    b[c] = a[c] / (k + alpha * sum of a[c']^2 over the ``size`` channels around c) ** beta,
    with the paper's defaults size=5, k=2, alpha=1e-4, beta=0.75 (Krizhevsky et al. 2012,
    section 3.3). Note alpha is *not* divided by ``size`` here, as in the paper
    (Caffe divides it).
    """

    def __init__(self, size: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75,
                 **kwargs):
        super().__init__(**kwargs)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"LRN size must be a positive odd number of channels, got {size}")
        self.size, self.k, self.alpha, self.beta = int(size), float(k), float(alpha), float(beta)

    def call(self, x):
        radius = self.size // 2
        channels = x.shape[-1]
        squares = ops.pad(ops.square(x), [[0, 0]] * (len(x.shape) - 1) + [[radius, radius]])
        window_sum = sum(squares[..., i:i + channels] for i in range(self.size))
        return x / ops.power(self.k + self.alpha * window_sum, self.beta)

    def count_macs(self, input_shape, output_shape) -> int:
        return _numel(output_shape) * self.size  # one square-and-add per channel in the window

    def get_config(self):
        return super().get_config() | {"size": self.size, "k": self.k, "alpha": self.alpha,
                                       "beta": self.beta}


@register
class DropPath(keras.layers.Layer):
    """Stochastic depth (Huang et al. 2016): drop a whole residual branch per example.

    During training the branch is kept with probability ``1 - rate`` and scaled by
    ``1 / (1 - rate)``; at test time the layer is the identity. The paper instead
    scales by the survival probability at test time: the expectation is the same.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop-path rate must be in [0, 1), got {rate}")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
        mask = ops.cast(keras.random.uniform(shape, seed=self.seed_generator) < keep, x.dtype)
        return x * mask / keep

    def get_config(self):
        return super().get_config() | {"rate": self.rate, "seed": self.seed}


@register
class ZeroPadShortcut(keras.layers.Layer):
    """ResNet's shortcut option A: subsample by the stride, zero-pad the new channels.

    Parameter-free, so a residual net has exactly the parameters of its plain twin.
    """

    def __init__(self, filters: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = int(filters), int(stride)

    def call(self, x):
        x = x[:, ::self.stride, ::self.stride, :]
        extra = self.filters - x.shape[-1]
        if extra < 0:
            raise ValueError(f"option-A shortcut cannot shrink {x.shape[-1]} channels to {self.filters}")
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        shrink = (lambda n: None if n is None else -(-n // self.stride))
        return (batch, shrink(h), shrink(w), self.filters)

    def get_config(self):
        return super().get_config() | {"filters": self.filters, "stride": self.stride}


@register
class TrainableSubsampling(keras.layers.Layer):
    """LeNet-5's S2/S4: per-map sum over a 2x2 window, times a learned coefficient, plus a bias.

    Two parameters per feature map (LeCun et al. 1998, section II.B).
    """

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(shape=(channels,), initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=(channels,), initializer="zeros", name="bias")

    def call(self, x):
        window_sum = ops.average_pool(x, self.pool_size, self.pool_size, "valid") * self.pool_size ** 2
        return window_sum * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        return (batch, h // self.pool_size, w // self.pool_size, c)

    def count_macs(self, input_shape, output_shape) -> int:
        return _numel(output_shape) * self.pool_size ** 2  # as a 2x2 depthwise conv with tied weights

    def get_config(self):
        return super().get_config() | {"pool_size": self.pool_size}


@register
class PartiallyConnectedConv2D(keras.layers.Layer):
    """A 'valid' convolution where output map j sees only the input maps ``connections[j]``.

    LeNet-5's C3 uses this to break symmetry and to save parameters: it stores
    one kernel slice per connection, so the parameter count is the paper's
    (25 weights per connection + one bias per map = 1516 for C3), not the
    2416 of a full 5x5x6x16 convolution.
    """

    is_weight_layer = True  # counts towards a network's depth, like Conv2D

    def __init__(self, connections: Sequence[Sequence[int]], kernel_size: int = 5, **kwargs):
        super().__init__(**kwargs)
        self.connections = [sorted(int(i) for i in inputs) for inputs in connections]
        if not all(self.connections):
            raise ValueError("every output map needs at least one input map in `connections`")
        self.kernel_size = int(kernel_size)
        self.filters = len(self.connections)

    def build(self, input_shape):
        c_in = input_shape[-1]
        if max(max(inputs) for inputs in self.connections) >= c_in:
            raise ValueError(f"`connections` refers to input map {max(map(max, self.connections))} "
                             f"but the input has only {c_in} maps")
        pairs = [(i, j) for j, inputs in enumerate(self.connections) for i in inputs]
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, len(pairs)),
                                      initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
        # Where each (input map, output map) slot of the full kernel reads from; the
        # extra index len(pairs) points at a slice of zeros (no connection).
        slot = {pair: n for n, pair in enumerate(pairs)}
        self._gather_index = [slot.get((i, j), len(pairs)) for i in range(c_in) for j in range(self.filters)]
        self._c_in = c_in

    def full_kernel(self):
        """The equivalent dense kernel (k, k, c_in, filters), zero where maps are not connected."""
        zeros = ops.zeros((self.kernel_size, self.kernel_size, 1), dtype=self.kernel.dtype)
        flat = ops.take(ops.concatenate([self.kernel, zeros], axis=-1), self._gather_index, axis=-1)
        return ops.reshape(flat, (self.kernel_size, self.kernel_size, self._c_in, self.filters))

    def call(self, x):
        return ops.conv(x, self.full_kernel(), strides=1, padding="valid") + self.bias

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        return (batch, h - self.kernel_size + 1, w - self.kernel_size + 1, self.filters)

    def count_macs(self, input_shape, output_shape) -> int:
        connections = sum(len(inputs) for inputs in self.connections)
        return math.prod(output_shape[1:3]) * self.kernel_size ** 2 * connections

    def get_config(self):
        return super().get_config() | {"connections": self.connections, "kernel_size": self.kernel_size}
