"""Tiny Keras models whose visualisations are known in closed form, for the tests of assignment 08.

A saliency map, an occlusion map or a Grad-CAM of a real CNN has no answer to
compare with except another implementation of the same idea. These models are
small enough that the answer follows by hand: a linear classifier's score
gradient is its weight, occluding a patch of it changes the score by a sum, and
backpropagation through two ReLU layers is three matrix products. Each builder
returns the model; each ``*_by_hand`` function computes the answer with NumPy
from the model's weights, never through Keras' gradients. Tested in
``tests/test_viz_oracles.py`` against TensorFlow's own.
"""
from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf


def linear_model(shape: tuple, n_classes: int, seed: int) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """score = b + sum(W * image): a classifier whose every visualisation is known in closed form.

    Returns the Keras model and its weights as W of shape (H, W, C, n_classes) and b.
    """
    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(n_classes, name="scores")(keras.layers.Flatten()(inputs))
    net = keras.Model(inputs, outputs)
    weights, bias = rng.normal(size=(*shape, n_classes)), rng.normal(size=n_classes)
    net.get_layer("scores").set_weights([weights.reshape(-1, n_classes), bias])
    return net, weights, bias


def occlusion_by_hand(weights: np.ndarray, bias: np.ndarray, image: np.ndarray, class_index: int, patch: int,
                      stride: int, fill: float) -> np.ndarray:
    """The linear model's score with the patch at every position, computed pixel by pixel."""
    height, width = image.shape[:2]
    rows, cols = (height - patch) // stride + 1, (width - patch) // stride + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            occluded = image.astype(np.float64).copy()
            occluded[i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
            out[i, j] = bias[class_index] + np.sum(weights[..., class_index] * occluded)
    return out


def relu_net(seed: int, shape: tuple = (4, 4, 1), hidden: tuple = (6, 5), n_classes: int = 3) -> keras.Model:
    """Flatten -> Dense(relu) -> Dense -> ReLU layer -> Dense: both kinds of ReLU a model can have."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape)
    x = keras.layers.Dense(hidden[0], activation="relu", name="d1")(keras.layers.Flatten()(inputs))
    x = keras.layers.ReLU(name="r2")(keras.layers.Dense(hidden[1], name="d2")(x))
    outputs = keras.layers.Dense(n_classes, name="d3")(x)
    net = keras.Model(inputs, outputs)
    for name in ("d1", "d2", "d3"):
        layer = net.get_layer(name)
        layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])
    return net


def relu_net_gradient(net: keras.Model, image: np.ndarray, class_index: int, guided: bool) -> np.ndarray:
    """Backprop through relu_net by hand: plain (mask x > 0) or guided (also mask upstream > 0)."""
    (w1, b1), (w2, b2), (w3, _) = (net.get_layer(n).get_weights() for n in ("d1", "d2", "d3"))
    x = image.astype(np.float64).reshape(-1)
    pre1 = x @ w1 + b1
    pre2 = np.maximum(pre1, 0) @ w2 + b2
    upstream = w3[:, class_index]
    for pre, weights in ((pre2, w2), (pre1, w1)):
        mask = (pre > 0) & (upstream > 0) if guided else pre > 0
        upstream = weights @ (upstream * mask)
    return upstream.reshape(image.shape)


def cam_net(seed: int, shape: tuple = (8, 8, 2), filters: int = 4, n_classes: int = 3,
            negative_head: bool = False) -> keras.Model:
    """conv(relu) -> 2x2 max pool -> Flatten -> Dense: class-score gradients differ from place to place."""
    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    outputs = keras.layers.Dense(n_classes, name="head")(keras.layers.Flatten()(x))
    net = keras.Model(inputs, outputs)
    kernel = rng.normal(size=(3, 3, shape[-1], filters))
    net.get_layer("conv").set_weights([kernel, np.abs(rng.normal(size=filters))])
    head = rng.normal(size=net.get_layer("head").get_weights()[0].shape)
    net.get_layer("head").set_weights([-np.abs(head) if negative_head else head, np.zeros(n_classes)])
    return net


def grad_cam_by_hand(net: keras.Model, image: np.ndarray, class_index: int, relu_first: bool = True,
                     space_average: bool = True) -> np.ndarray:
    """Grad-CAM of cam_net at layer 'pool'. d score / d A is the head's weight for that position."""
    kernel, bias = net.get_layer("conv").get_weights()
    conv = tf.nn.relu(tf.nn.conv2d(image[None].astype(np.float32), kernel, 1, "SAME") + bias)
    activations = tf.nn.max_pool2d(conv, 2, 2, "VALID")[0].numpy().astype(np.float64)  # (h, w, K)
    head = net.get_layer("head").get_weights()[0].reshape(*activations.shape, -1)[..., class_index]
    if space_average:
        cam = np.sum(head.mean(axis=(0, 1)) * activations, axis=-1)
    else:  # the mistake of weighting each position by its own gradient
        cam = np.sum(head * activations, axis=-1)
    if relu_first:
        cam = np.maximum(cam, 0)
    cam = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0].numpy()
    if not relu_first:
        cam = np.maximum(cam, 0)
    return cam / cam.max() if cam.max() > 0 else cam


def ascent_by_hand(weights: np.ndarray, steps: int, learning_rate: float, l2: float, direction: float = 1.0,
                   penalty_gradient: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Gradient ascent on S(I) - l2 * ||I||^2 for a linear score S = b + sum(w * I), from zeros.

    ``penalty_gradient`` (default 2 * l2 * I) and ``direction`` let the tests build typical mistakes.
    """
    penalty_gradient = penalty_gradient or (lambda image: 2 * l2 * image)
    image = np.zeros_like(weights, dtype=np.float64)
    for _ in range(steps):
        image = image + direction * learning_rate * (weights - penalty_gradient(image))
    return image
