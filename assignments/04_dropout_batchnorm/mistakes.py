"""Wrong-but-plausible answers to assignment 04_dropout_batchnorm; the tests must reject every one.

Each mistake is the source solution with one small edit, so the difference between
a right and a wrong submission is exactly the mistake named in the key. Building
them from the solution (rather than retyping it) keeps the two in step: if the
solution changes so that an edit no longer applies, importing this module fails
and says which mistake to update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_edit = SolutionEdits("04_dropout_batchnorm").edit

_TRAINING = 'return x * mask / keep_prob if scale_at == "train" else x * mask'
_INFERENCE = 'return x.copy() if scale_at == "train" else x * keep_prob'
_DRAW = "rng.random(x.shape)"
_WEIGHTS = "np.where(mask == 1, keep_prob, 1 - keep_prob)"
_NEW_MEAN = "momentum * running_mean + (1 - momentum) * mean"
_NEW_VAR = "momentum * running_var + (1 - momentum) * var"
_OUT = "out = gamma * (x - mean) / np.sqrt(var + epsilon) + beta"
_BATCH_VAR = "x.var(axis=axes)"
_DX = "dx = gamma * inv_std * (dout - dout.mean(axis=axes) - x_hat * (dout * x_hat).mean(axis=axes))"

MISTAKES = {
    # dropout
    "dropout without rescaling":
        _edit("dropout_forward", (_TRAINING, "return x * mask")),
    "dropout scaled by p instead of 1/p in training":
        _edit("dropout_forward", ("x * mask / keep_prob", "x * mask * keep_prob")),
    "dropping with probability p instead of keeping with p":
        _edit("dropout_forward", (f"{_DRAW} < keep_prob", f"{_DRAW} < 1 - keep_prob")),
    "dropout active at inference":
        _edit("dropout_forward", ("if not training:", "if False:  # the inference branch, never taken")),
    "scale-at-test convention without the test-time scaling":
        _edit("dropout_forward", (_INFERENCE, "return x.copy()")),
    "inverted dropout also scaled at inference":
        _edit("dropout_forward", (_INFERENCE, "return x * keep_prob")),
    "a new generator inside the function (the same mask every call)":
        _edit("dropout_forward", (_DRAW, "np.random.default_rng(0).random(x.shape)")),
    "the global NumPy generator instead of rng":
        _edit("dropout_forward", (_DRAW, "np.random.random(x.shape)")),
    # the expectation argument
    "all masks weighted equally":
        _edit("expected_neuron_output", (f"np.prod({_WEIGHTS})", "0.5 ** len(x)")),
    "keep and drop probabilities swapped":
        _edit("expected_neuron_output", ("keep_prob, 1 - keep_prob", "1 - keep_prob, keep_prob")),
    # batch norm forward
    "batch norm using batch statistics at inference":
        _edit("batchnorm_forward", ("if training:", "if True:")),
    "unbiased variance (ddof=1) instead of Keras' biased one":
        _edit("batchnorm_forward", (_BATCH_VAR, "x.var(axis=axes, ddof=1)")),
    "unbiased variance in the running average only (PyTorch's convention)":
        _edit("batchnorm_forward", ("(1 - momentum) * var", "(1 - momentum) * x.var(axis=axes, ddof=1)")),
    "running-average momentum inverted":
        _edit("batchnorm_forward", (_NEW_MEAN, "(1 - momentum) * running_mean + momentum * mean"),
              (_NEW_VAR, "(1 - momentum) * running_var + momentum * var")),
    "epsilon outside the square root":
        _edit("batchnorm_forward", ("np.sqrt(var + epsilon)", "(np.sqrt(var) + epsilon)")),
    "gamma and beta forgotten":
        _edit("batchnorm_forward", (_OUT, "out = (x - mean) / np.sqrt(var + epsilon)")),
    "batch norm at inference without gamma and beta":
        _edit("batchnorm_forward", (_OUT, f"{_OUT} if training else (x - mean) / np.sqrt(var + epsilon)")),
    "epsilon added to the stored running variance (not only inside the square root)":
        _edit("batchnorm_forward", (_BATCH_VAR, f"{_BATCH_VAR} + epsilon"), ("np.sqrt(var + epsilon)", "np.sqrt(var)")),
    "statistics over the batch axis only (not height and width)":
        _edit("batchnorm_forward", ("axes = tuple(range(x.ndim - 1))", "axes = 0")),
    "running statistics not updated in training":
        _edit("batchnorm_forward", (_NEW_MEAN, "running_mean"), (_NEW_VAR, "running_var")),
    # batch norm backward
    "BN backward through x_hat only (mean and variance terms missing)":
        _edit("batchnorm_backward", (_DX, "dx = gamma * inv_std * dout")),
    "BN backward missing the variance term":
        _edit("batchnorm_backward", (" - x_hat * (dout * x_hat).mean(axis=axes)", "")),
    "BN backward missing the mean term":
        _edit("batchnorm_backward", (" - dout.mean(axis=axes)", "")),
    "BN backward: dgamma without the x_hat factor":
        _edit("batchnorm_backward", ("dgamma = (dout * x_hat).sum(axis=axes)", "dgamma = dout.sum(axis=axes)")),
    "BN backward: dbeta averaged instead of summed":
        _edit("batchnorm_backward", ("dbeta = dout.sum(axis=axes)", "dbeta = dout.mean(axis=axes)")),
    "BN backward with N - 1 in the variance":
        _edit("batchnorm_backward", ("dx = gamma * inv_std *", "dx = gamma / np.sqrt(x.var(axis=axes, ddof=1) + epsilon) *")),
}
