"""Wrong-but-plausible answers to assignment 04_dropout_batchnorm; each one must lose points.

``MISTAKES[description][grade_id]`` is the full source of a solution cell written
wrongly. Each function comes from a template of the correct code with only the
wrong line(s) changed, so a reader sees exactly what the mistake is.
"""

DROPOUT = '''def dropout_forward(x, keep_prob, training, rng, scale_at="train"):
    if not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be in (0, 1], got {{keep_prob}}")
    if scale_at not in ("train", "test"):
        raise ValueError(f"scale_at must be 'train' or 'test', got {{scale_at!r}}")
    x = np.asarray(x)
    if {inference_condition}:
        return {inference}
    mask = {mask}
    return {training}
'''

CORRECT_DROPOUT = dict(inference_condition="not training",
                       inference='x.copy() if scale_at == "train" else x * keep_prob',
                       mask="rng.random(x.shape) < keep_prob",
                       training='x * mask / keep_prob if scale_at == "train" else x * mask')


def dropout(**wrong: str) -> dict:
    return {"dropout_forward": DROPOUT.format(**(CORRECT_DROPOUT | wrong))}


EXPECTATION = '''def expected_neuron_output(w, x, keep_prob):
    w, x = np.asarray(w, dtype=float), np.asarray(x, dtype=float)
    expectation = 0.0
    for mask in itertools.product([0, 1], repeat=len(x)):
        mask = np.array(mask)
        probability = {probability}
        expectation += probability * float(w @ (mask * x))
    return expectation
'''


def expectation(probability: str) -> dict:
    return {"expected_neuron_output": EXPECTATION.format(probability=probability)}


BATCHNORM = '''def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.99, epsilon=1e-3):
    axes = {axes}
    if {training_condition}:
        mean, var = x.mean(axis=axes), {batch_var}
        new_mean = {new_mean}
        new_var = {new_var}
        out = {out}
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.copy(), running_var.copy()
        out = {inference_out}
    return out, new_mean, new_var
'''

CORRECT_BATCHNORM = dict(axes="tuple(range(x.ndim - 1))", training_condition="training",
                         batch_var="x.var(axis=axes)",
                         new_mean="momentum * running_mean + (1 - momentum) * mean",
                         new_var="momentum * running_var + (1 - momentum) * var",
                         out="gamma * (x - mean) / np.sqrt(var + epsilon) + beta",
                         inference_out="gamma * (x - mean) / np.sqrt(var + epsilon) + beta")


def batchnorm(**wrong: str) -> dict:
    """A wrong `out` is wrong in both modes unless `inference_out` says otherwise."""
    if "out" in wrong:
        wrong = {"inference_out": wrong["out"]} | wrong
    return {"batchnorm_forward": BATCHNORM.format(**(CORRECT_BATCHNORM | wrong))}


BACKWARD = '''def batchnorm_backward(dout, x, gamma, epsilon=1e-3):
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = 1 / np.sqrt(var + epsilon)
    x_hat = (x - mean) * inv_std
    dbeta = {dbeta}
    dgamma = {dgamma}
    dx = {dx}
    return dx, dgamma, dbeta
'''

CORRECT_BACKWARD = dict(dbeta="dout.sum(axis=axes)", dgamma="(dout * x_hat).sum(axis=axes)",
                        dx="gamma * inv_std * (dout - dout.mean(axis=axes) - x_hat * (dout * x_hat).mean(axis=axes))")


def backward(**wrong: str) -> dict:
    return {"batchnorm_backward": BACKWARD.format(**(CORRECT_BACKWARD | wrong))}


MISTAKES = {
    # dropout
    "dropout without rescaling": dropout(training="x * mask"),
    "dropout scaled by p instead of 1/p in training": dropout(training='x * mask * keep_prob if scale_at == "train" else x * mask'),
    "dropping with probability p instead of keeping with p": dropout(mask="rng.random(x.shape) < 1 - keep_prob"),
    "dropout active at inference": dropout(inference_condition="False"),
    "scale-at-test convention without the test-time scaling": dropout(inference="x.copy()"),
    "inverted dropout also scaled at inference": dropout(inference="x * keep_prob"),
    "a new generator inside the function (the same mask every call)": dropout(
        mask="np.random.default_rng(0).random(x.shape) < keep_prob"),
    "the global NumPy generator instead of rng": dropout(mask="np.random.random(x.shape) < keep_prob"),
    # the expectation argument
    "all masks weighted equally": expectation("0.5 ** len(x)"),
    "keep and drop probabilities swapped": expectation("np.prod(np.where(mask == 1, 1 - keep_prob, keep_prob))"),
    # batch norm forward
    "batch norm using batch statistics at inference": batchnorm(training_condition="True"),
    "unbiased variance (ddof=1) instead of Keras' biased one": batchnorm(batch_var="x.var(axis=axes, ddof=1)"),
    "unbiased variance in the running average only (PyTorch's convention)": batchnorm(
        new_var="momentum * running_var + (1 - momentum) * x.var(axis=axes, ddof=1)"),
    "running-average momentum inverted": batchnorm(new_mean="(1 - momentum) * running_mean + momentum * mean",
                                                   new_var="(1 - momentum) * running_var + momentum * var"),
    "epsilon outside the square root": batchnorm(out="gamma * (x - mean) / (np.sqrt(var) + epsilon) + beta"),
    "gamma and beta forgotten": batchnorm(out="(x - mean) / np.sqrt(var + epsilon)"),
    "batch norm at inference without gamma and beta": batchnorm(inference_out="(x - mean) / np.sqrt(var + epsilon)"),
    "epsilon added to the stored running variance (not only inside the square root)": batchnorm(
        batch_var="x.var(axis=axes) + epsilon", out="gamma * (x - mean) / np.sqrt(var) + beta"),
    "statistics over the batch axis only (not height and width)": batchnorm(axes="0"),
    "running statistics not updated in training": batchnorm(new_mean="running_mean", new_var="running_var"),
    # batch norm backward
    "BN backward through x_hat only (mean and variance terms missing)": backward(dx="gamma * inv_std * dout"),
    "BN backward missing the variance term": backward(dx="gamma * inv_std * (dout - dout.mean(axis=axes))"),
    "BN backward missing the mean term": backward(
        dx="gamma * inv_std * (dout - x_hat * (dout * x_hat).mean(axis=axes))"),
    "BN backward: dgamma without the x_hat factor": backward(dgamma="dout.sum(axis=axes)"),
    "BN backward: dbeta averaged instead of summed": backward(dbeta="dout.mean(axis=axes)"),
    "BN backward with N - 1 in the variance": backward(dx=(
        "gamma / np.sqrt(x.var(axis=axes, ddof=1) + epsilon) * (dout - dout.mean(axis=axes)"
        " - x_hat * (dout * x_hat).mean(axis=axes))")),
}
