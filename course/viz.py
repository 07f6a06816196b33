"""Looking inside a convnet: the lecture's visualisation techniques, ready for the demos.

The slides *Visualizing and understanding ConvNets* list ways to see what a
trained network has learned; this module implements them for any Keras
functional classifier that outputs class scores (logits), such as the course's
``pretrained.load("fashion_cnn")``:

* weights and activations: `normalise_filters` / `filter_grid` (first-layer
  filters), `feature_maps` / `map_grid` (what a layer responds to),
  `any_size` (the convolutional layers run on a real photo of any size);
* attribution: `occlusion_map` (Zeiler & Fergus) and `window_coverage` (which
  of its windows covered the object), `saliency` (Simonyan et al.),
  `guided_backprop` (Springenberg et al.; `guided_relu` and `deconvnet_relu`
  are the slides' backward rules), `grad_cam` (Selvaraju et al.), `overlay` to
  draw a heat map over its image;
* optimisation: `class_model` (gradient ascent on the image, L2-regularised);
* representation: `penultimate_features`, `tsne`, `tsne_scatter` and
  `neighbour_agreement` (a number for "similar things end up in similar places").

Scores are the model's outputs *before* the softmax, as on the slides: a
softmax score can rise just because other classes fall.

Gradient models are built from functional inputs/outputs
(``keras.Model(model.input, layer.output)``), never from a Sequential model:
Keras 3 has no ``.input`` on a Sequential model that was never called, which is
why the keras-io Grad-CAM example fails on Sequential models. Assignment 08
asks students to write these functions themselves; its tests do not use this
module as their oracle.
"""
from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

# --------------------------------------------------------------------------- model plumbing


def _image_batch(image, model: keras.Model) -> tf.Tensor:
    """One image (H, W, C) or a batch (N, H, W, C) -> a float32 batch the model accepts."""
    batch = np.asarray(image, np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    expected = model.input_shape[1:]
    fits = batch.ndim == 4 and all(want in (None, got) for want, got in zip(expected, batch.shape[1:]))
    if not fits:
        raise ValueError(f"the model expects images of shape {expected}, got an array of shape {np.shape(image)}; "
                         "pass one image (H, W, C) or a batch (N, H, W, C) of floats in [0, 1]")
    return tf.constant(batch)


def _check_class(model: keras.Model, class_index: int) -> int:
    n_classes = model.output_shape[-1]
    if not 0 <= int(class_index) < n_classes:
        raise ValueError(f"class_index must be between 0 and {n_classes - 1} (the model has {n_classes} outputs), "
                         f"got {class_index}")
    return int(class_index)


def layer_model(model: keras.Model, layer_names: str | Sequence[str]) -> keras.Model:
    """A model from ``model``'s input to the outputs of the named layers (shared weights)."""
    names = [layer_names] if isinstance(layer_names, str) else list(layer_names)
    known = [layer.name for layer in model.layers]
    for name in names:
        if name not in known:
            raise ValueError(f"the model has no layer {name!r}; its layers are {known}")
    outputs = [model.get_layer(name).output for name in names]
    return keras.Model(model.input, outputs[0] if isinstance(layer_names, str) else outputs)


def _copy_of(layer, **config_changes):
    """A new layer like ``layer`` (config changed as asked), not yet built or called."""
    config = layer.get_config()
    config.update(config_changes)
    return layer.__class__.from_config(config)


def any_size(model: keras.Model, up_to: str) -> keras.Model:
    """A copy of a chain model's layers up to ``up_to``, on inputs of any height and width.

    Convolution, batch norm, ReLU and pooling do not care about the image size,
    so the first layers of a 28x28 Fashion-MNIST model can run on a real photo.
    The layers are copies with the same weights, so the new model's
    ``get_layer(name).output`` refers to its own graph.
    """
    inputs = keras.Input((None, None, model.input_shape[-1]), name="any_size_image")
    x, previous = inputs, model.layers[0]
    for layer in model.layers[1:]:
        if layer.input is not previous.output:
            raise ValueError(f"{model.name} is not a simple chain of layers (layer {layer.name!r} does not take the "
                             f"output of {previous.name!r}); build the sub-model by hand")
        twin = _copy_of(layer)
        x = twin(x)
        twin.set_weights(layer.get_weights())
        if layer.name == up_to:
            return keras.Model(inputs, x, name=f"{model.name}_to_{up_to}")
        previous = layer
    raise ValueError(f"the model has no layer {up_to!r}; its layers are {[l.name for l in model.layers]}")


def _is_relu_layer(layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        config = layer.get_config()
        return not config.get("negative_slope") and config.get("max_value") is None and not config.get("threshold")
    return isinstance(layer, keras.layers.Activation) and layer.activation is keras.activations.relu


def relu_swapped(model: keras.Model, relu: Callable[[tf.Tensor], tf.Tensor]) -> keras.Model:
    """A copy of ``model`` (same weights) in which every ReLU is replaced by ``relu``, e.g. a guided ReLU.

    Covers ``ReLU`` / ``Activation("relu")`` layers and layers built with
    ``activation="relu"`` (Conv2D, Dense...): those are copied with a linear
    activation and followed by ``relu``.
    """
    if not any(_is_relu_layer(layer) or getattr(layer, "activation", None) is keras.activations.relu
               for layer in model.layers):
        raise ValueError(f"{model.name} has no ReLU to replace (looked for ReLU layers and activation='relu')")
    followed_by_relu: set[int] = set()

    def clone(layer):
        if getattr(layer, "activation", None) is keras.activations.relu and not _is_relu_layer(layer):
            twin = _copy_of(layer, activation="linear")
            followed_by_relu.add(id(twin))
            return twin
        return _copy_of(layer)

    def call(layer, *args, **kwargs):
        if _is_relu_layer(layer):
            return keras.layers.Activation(relu)(*args)
        outputs = layer(*args, **kwargs)
        return keras.layers.Activation(relu)(outputs) if id(layer) in followed_by_relu else outputs

    swapped = keras.models.clone_model(model, clone_function=clone, call_function=call)
    swapped.set_weights(model.get_weights())  # ReLUs and activations own no weights: same order
    return swapped


def class_score_gradient(model: keras.Model, images, class_index: int) -> tuple[np.ndarray, np.ndarray]:
    """The class scores of a batch and their gradients with respect to the input pixels."""
    class_index = _check_class(model, class_index)
    batch = _image_batch(images, model)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        scores = model(batch, training=False)[:, class_index]
    return scores.numpy(), tape.gradient(scores, batch).numpy()


# --------------------------------------------------------------------------- weights and activations


def normalise_filters(kernel) -> np.ndarray:
    """Filters (FH, FW, C, K) scaled to [0, 1] one filter at a time, for display.

    Each filter gets its own range so a weak filter is as visible as a strong
    one; a constant filter becomes all zeros.
    """
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"expected conv filters of shape (FH, FW, C_in, K), got shape {kernel.shape}")
    low = kernel.min(axis=(0, 1, 2), keepdims=True)
    span = kernel.max(axis=(0, 1, 2), keepdims=True) - low
    return np.divide(kernel - low, span, out=np.zeros_like(kernel), where=span > 0)


def feature_maps(model: keras.Model, images, layer_name: str) -> np.ndarray:
    """The activations of layer ``layer_name`` for a batch (or one image): (N, h, w, K)."""
    batch = _image_batch(images, model)
    return layer_model(model, layer_name)(batch, training=False).numpy()


def map_grid(maps: np.ndarray, titles: Sequence[str] | None = None, columns: int = 8, size: float = 1.1,
             cmap: str = "viridis", suptitle: str | None = None):
    """Small panels side by side, one per image or channel; maps (K, h, w) or (K, h, w, 3)."""
    import matplotlib.pyplot as plt

    maps = np.asarray(maps)
    rows = int(np.ceil(len(maps) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < len(maps):
            ax.imshow(maps[i], cmap=cmap if maps[i].ndim == 2 else None)
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def filter_grid(kernel, columns: int = 8, size: float = 0.9, suptitle: str | None = "first-layer filters"):
    """Every filter of a first conv layer, normalised one by one (gray, or colour for RGB inputs)."""
    filters = np.moveaxis(normalise_filters(kernel), -1, 0)  # (K, FH, FW, C)
    filters = filters[..., 0] if filters.shape[-1] == 1 else filters
    return map_grid(filters, [str(k) for k in range(len(filters))], columns, size, "gray", suptitle)


# --------------------------------------------------------------------------- attribution maps


def occlusion_map(model: keras.Model, image, class_index: int, patch: int = 6, stride: int = 2,
                  fill: float = 0.5) -> np.ndarray:
    """Class score with a ``fill``-grey square covering each position (Zeiler & Fergus).

    Entry (i, j) is the score with the patch over rows i*stride .. i*stride+patch
    and the same columns; a low value marks a region the class depends on.
    """
    class_index = _check_class(model, class_index)
    image = _image_batch(image, model).numpy()[0]
    height, width = image.shape[:2]
    if not 0 < patch <= min(height, width) or stride < 1:
        raise ValueError(f"need 0 < patch <= {min(height, width)} and stride >= 1, got patch={patch}, stride={stride}")
    rows, cols = (height - patch) // stride + 1, (width - patch) // stride + 1
    occluded = np.repeat(image[None], rows * cols, axis=0)
    for k, (i, j) in enumerate(np.ndindex(rows, cols)):
        occluded[k, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
    scores = model(occluded, training=False)[:, class_index]
    return np.asarray(scores).reshape(rows, cols)


def window_coverage(mask, patch: int, stride: int) -> np.ndarray:
    """Fraction of each occlusion window covered by ``mask`` (H, W), on `occlusion_map`'s grid.

    Tells which occlusion scores covered the object and which only background,
    e.g. ``window_coverage(image[..., 0] > 0, 6, 2) == 0`` for pure background.
    """
    mask = np.asarray(mask, np.float64)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask (H, W), got shape {mask.shape}; for an image use image[..., 0] > 0")
    if not 0 < patch <= min(mask.shape) or stride < 1:
        raise ValueError(f"need 0 < patch <= {min(mask.shape)} and stride >= 1, got patch={patch}, stride={stride}")
    windows = np.lib.stride_tricks.sliding_window_view(mask, (patch, patch))[::stride, ::stride]
    return windows.mean(axis=(2, 3))


def saliency(model: keras.Model, image, class_index: int) -> np.ndarray:
    """|d score / d pixel|, maximum over the colour channels: (H, W) (Simonyan et al. 2014)."""
    _, gradient = class_score_gradient(model, image, class_index)
    return np.abs(gradient[0]).max(axis=-1)


@tf.custom_gradient
def guided_relu(x):
    """ReLU forward; backward passes only positive gradients, and only where the input was positive."""
    def backward(upstream):
        return upstream * tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

    return tf.nn.relu(x), backward


@tf.custom_gradient
def deconvnet_relu(x):
    """ReLU forward; backward passes the positive gradients wherever they arrive (Zeiler & Fergus' deconvnet).

    The third backward rule of the slides, beside the ordinary one (``x > 0``)
    and the guided one (both masks): it ignores the forward input entirely.
    """
    def backward(upstream):
        return upstream * tf.cast(upstream > 0, upstream.dtype)

    return tf.nn.relu(x), backward


def guided_backprop(model: keras.Model, image, class_index: int) -> np.ndarray:
    """Gradient of the class score through guided ReLUs: (H, W, C), signed (Springenberg et al. 2015)."""
    _, gradient = class_score_gradient(relu_swapped(model, guided_relu), image, class_index)
    return gradient[0]


def grad_cam(model: keras.Model, image, class_index: int, layer_name: str) -> np.ndarray:
    """Grad-CAM heat map (H, W) in [0, 1], upsampled bilinearly to the input size.

    Channel weights are the class-score gradients averaged over space; the map
    is ReLU(sum_k weight_k * A_k) at the layer's resolution, resized with
    ``tf.image.resize`` and divided by its maximum (all zeros stays zeros).
    """
    class_index = _check_class(model, class_index)
    batch = _image_batch(image, model)
    probe = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
    with tf.GradientTape() as tape:
        activations, scores = probe(batch, training=False)
        score = scores[:, class_index]
    gradient = tape.gradient(score, activations)
    if activations.shape.rank != 4:
        raise ValueError(f"Grad-CAM needs a convolutional layer (a 4-D output); {layer_name!r} outputs "
                         f"shape {tuple(activations.shape)}")
    weights = tf.reduce_mean(gradient, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))[0]
    cam = tf.image.resize(cam[..., None], batch.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def overlay(ax, image, heat: np.ndarray, title: str = "", alpha: float = 0.5, cmap: str = "jet") -> None:
    """A heat map drawn half-transparent over its (grayscale or colour) image."""
    image = np.asarray(image, np.float32)
    image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    ax.imshow(heat, cmap=cmap, alpha=alpha, extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def signed_to_rgb(gradient: np.ndarray) -> np.ndarray:
    """A signed gradient image centred on grey and stretched to [0, 1], for display."""
    gradient = np.asarray(gradient, np.float64)
    span = np.abs(gradient).max()
    shown = 0.5 + 0.5 * gradient / span if span > 0 else np.full_like(gradient, 0.5)
    return shown[..., 0] if shown.shape[-1] == 1 else shown


# --------------------------------------------------------------------------- optimisation to image


def class_model(model: keras.Model, class_index: int, steps: int = 200, learning_rate: float = 0.1,
                l2: float = 0.01) -> np.ndarray:
    """An image that maximises S_c(I) - l2 * ||I||^2, by gradient ascent from zeros (Simonyan et al.).

    Plain ascent: ``I += learning_rate * gradient``. Returns (H, W, C).
    """
    class_index = _check_class(model, class_index)
    image = tf.Variable(tf.zeros((1, *model.input_shape[1:])))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            objective = model(image, training=False)[0, class_index] - l2 * tf.reduce_sum(image ** 2)
        image.assign_add(learning_rate * tape.gradient(objective, image))

    for _ in range(steps):
        step()
    return image.numpy()[0]


# --------------------------------------------------------------------------- the representation space


def penultimate_features(model: keras.Model, images, batch_size: int = 256) -> np.ndarray:
    """The input of the last layer (the 'code' of each image, fc7 on the slides): (N, D)."""
    features = keras.Model(model.input, model.layers[-1].input)
    batch = _image_batch(images, model)
    return np.concatenate([features(batch[i:i + batch_size], training=False).numpy()
                           for i in range(0, len(batch), batch_size)])


def tsne(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE embedding (N, 2) of feature vectors, reproducible from ``seed``.

    One OpenMP thread: on a busy two-core machine scikit-learn's t-SNE is about
    ten times slower with spinning threads than with one.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    features = np.asarray(features, np.float32).reshape(len(features), -1)
    if len(features) <= perplexity:
        raise ValueError(f"t-SNE needs more points ({len(features)}) than the perplexity ({perplexity}); "
                         "pass more images or a smaller perplexity")
    with threadpool_limits(limits=1, user_api="openmp"):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Fraction of each point's k nearest neighbours (excluding itself) that share its label."""
    points = np.asarray(points, np.float64).reshape(len(points), -1)
    squared = (points ** 2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * points @ points.T
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :k]
    labels = np.asarray(labels)
    return float((labels[nearest] == labels[:, None]).mean())


def tsne_scatter(ax, embedding: np.ndarray, labels: np.ndarray, class_names: Sequence[str], title: str = "") -> None:
    """The embedding as coloured points, one colour per class, with a legend of class names."""
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for c, name in enumerate(class_names):
        chosen = np.asarray(labels) == c
        ax.scatter(embedding[chosen, 0], embedding[chosen, 1], s=8, color=cmap(c % 10), label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
