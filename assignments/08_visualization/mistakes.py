"""Wrong-but-plausible answers to assignment 08_visualization; the tests must reject every one.

Each mistake is the source solution with one small edit (or, for the in-place
occlusion, the loop a student would write), so the difference between a right
and a wrong submission is exactly the mistake named in the key. Building them
from the solution keeps the two in step: if the solution changes so that an
edit no longer applies, importing this module fails and says which mistake to
update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_solution = SolutionEdits("08_visualization")
_edit = _solution.edit


_OCCLUSION_IN_PLACE = '''def occlusion_map(model: keras.Model, image: np.ndarray, class_index: int, patch: int = 6, stride: int = 2,
                  fill: float = 0.5) -> np.ndarray:
    """Class score with a `fill` square at each position: (rows, cols), image of shape (H, W, C)."""
    height, width = image.shape[:2]
    rows, cols = (height - patch) // stride + 1, (width - patch) // stride + 1
    scores = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            occluded = image  # not a copy: every square stays in the caller's image
            occluded[i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
            scores[i, j] = float(model(occluded[None], training=False)[0, class_index])
    return scores
'''

MISTAKES = {
    # normalise_filters
    "filters not normalised":
        _edit("normalise_filters", ("return np.divide(kernel - low, span, out=np.zeros_like(kernel), where=span > 0)",
                                    "return kernel")),
    "one range for all filters instead of one per filter":
        _edit("normalise_filters", ("low = kernel.min(axis=(0, 1, 2), keepdims=True)", "low = kernel.min()"),
              ("span = kernel.max(axis=(0, 1, 2), keepdims=True) - low", "span = kernel.max() - low")),
    "constant filter divided by zero (NaN)":
        _edit("normalise_filters", ("np.divide(kernel - low, span, out=np.zeros_like(kernel), where=span > 0)",
                                    "(kernel - low) / span")),
    # feature_maps
    "feature maps computed in training mode (batch statistics)":
        _edit("feature_maps", ("training=False", "training=True")),
    # occlusion_map
    "occlusion patch never applied (image unchanged)":
        _edit("occlusion_map", ("occluded[k, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill",
                                "occluded[k, i * stride:i * stride + patch, j * stride:j * stride + patch] * fill")),
    "occlusion squares written into the caller's image":
        {"occlusion_map": _OCCLUSION_IN_PLACE},
    "occlusion positions off by one (last row and column of positions missing)":
        _edit("occlusion_map", ("(height - patch) // stride + 1, (width - patch) // stride + 1",
                                "(height - patch) // stride, (width - patch) // stride")),
    "occlusion map with rows and columns swapped":
        _edit("occlusion_map", ("occluded[k, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill",
                                "occluded[k, j * stride:j * stride + patch, i * stride:i * stride + patch] = fill")),
    # saliency_map
    "saliency without the absolute value":
        _edit("saliency_map", ("np.abs(tape.gradient(score, x).numpy()[0]).max(axis=-1)",
                               "tape.gradient(score, x).numpy()[0].max(axis=-1)")),
    "saliency summed over channels instead of the maximum":
        _edit("saliency_map", ("np.abs(tape.gradient(score, x).numpy()[0]).max(axis=-1)",
                               "np.abs(tape.gradient(score, x).numpy()[0]).sum(axis=-1)")),
    "saliency of the softmax probability instead of the score":
        _edit("saliency_map", ("score = model(x, training=False)[0, class_index]",
                               "score = tf.nn.softmax(model(x, training=False))[0, class_index]")),
    "saliency taken from course.viz":
        _solution.body("saliency_map", "from course.viz import saliency\n    return saliency(model, image, class_index)"),
    # guided_relu
    "guided ReLU passes negative gradients (ordinary ReLU backward)":
        _edit("guided_relu", (" * tf.cast(upstream > 0, upstream.dtype)", "")),
    "guided ReLU ignores the sign of the input ('deconvnet')":
        _edit("guided_relu", (" * tf.cast(x > 0, upstream.dtype)", "")),
    # guided_backprop
    "guided backprop through the original ReLUs (plain gradient)":
        _edit("guided_backprop", ("guided = relu_swapped(model, guided_relu)", "guided = model")),
    # grad_cam
    "Grad-CAM taken from course.viz (imported at the top of the cell)":
        {"grad_cam": "from course.viz import grad_cam as lecture_grad_cam\n\n\n" + _solution.body(
            "grad_cam", "return lecture_grad_cam(model, image, class_index, layer_name)")["grad_cam"]},
    "Grad-CAM without the ReLU":
        _edit("grad_cam", ("cam = tf.nn.relu(tf.reduce_sum(weights * activations[0], axis=-1))",
                           "cam = tf.reduce_sum(weights * activations[0], axis=-1)")),
    "Grad-CAM weights not averaged over space":
        _edit("grad_cam", ("weights = tf.reduce_mean(gradient, axis=(0, 1))", "weights = gradient")),
    "Grad-CAM not normalised":
        _edit("grad_cam", ("return cam / cam.max() if cam.max() > 0 else cam", "return cam")),
    "Grad-CAM weights averaged over channels instead of space":
        _edit("grad_cam", ("weights = tf.reduce_mean(gradient, axis=(0, 1))",
                           "weights = tf.reduce_mean(gradient, axis=-1, keepdims=True)")),
    # class_model_visualisation
    "gradient descent instead of ascent":
        _edit("class_model_visualisation", ("image.assign_add(", "image.assign_sub(")),
    "L2 penalty added to the objective instead of subtracted":
        _edit("class_model_visualisation", ("- l2 * tf.reduce_sum(image ** 2)", "+ l2 * tf.reduce_sum(image ** 2)")),
    "L2 penalty on the norm instead of the squared norm":
        _edit("class_model_visualisation", ("tf.reduce_sum(image ** 2)", "tf.norm(image)")),
    # penultimate_features
    "penultimate features are the logits":
        _edit("penultimate_features", ("model.layers[-1].input", "model.output")),
    "penultimate features taken before the last hidden layer":
        _edit("penultimate_features", ("model.layers[-1].input", "model.layers[-3].input")),
    # tsne_2d
    "t-SNE perplexity fixed at 30":
        _edit("tsne_2d", ("perplexity=perplexity", "perplexity=30.0")),
    "t-SNE of one dimension":
        _edit("tsne_2d", ("n_components=2", "n_components=1")),
}
