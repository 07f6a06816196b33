# ---
# jupyter:
#   kernelspec:
#     display_name: CNN course (.venv)
#     language: python
#     name: cnn-course
# ---

# %% [markdown]
# # 4. Depth and residual connections
#
# *Lecture: ResNet ("what happens when we continue stacking deeper layers on a
# plain network?": the 56-layer plain net has higher **training** and test
# error than the 20-layer one, so it is not overfitting), the residual block
# (H(x) = F(x) + x: the gradient through a block is 1 + F'(x)), and the
# backprop rules for convolutions.*
#
# (1 + F'(x) is exact for H(x) = F(x) + x. The networks below, like He et
# al.'s, apply a ReLU after the addition, relu(F(x) + x), whose 0/1 derivative
# multiplies it: the identity path carries the gradient through the units
# that are active.)
#
# We build He et al.'s CIFAR networks of 20 and 56 layers with `course.models`
# (`plain20`, `plain56`, `resnet20`, `resnet56`: identical layers, the plain
# ones without shortcuts), adapted to Fashion-MNIST's 28x28 grey images, and
#
# 1. measure the gradient that reaches every convolution at initialisation,
# 2. compare their training curves (precomputed in the demo profile, trained live in the full profile).

# %%
try:
    from course.runtime import start
except ModuleNotFoundError:  # a kernel whose Python lacks the course package
    raise ModuleNotFoundError(
        "This kernel's Python does not have the course package: choose Kernel > Change Kernel > "
        "'CNN course (.venv)' (bash scripts/setup.sh in the course folder adds it), "
        "or install the package into this Python with: pip install -e COURSE_FOLDER"
    ) from None

profile = start()

# %%
import ipywidgets as widgets
import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf

from course import data, models
from course.widgets import LiveFigure

# %% [markdown]
# ## 4.1 Gradient norms, layer by layer
#
# One batch of 32 real images, one backward pass, the norm of dLoss/dW for
# every convolution kernel from the first layer to the last. If the signal
# fades (or blows up) on its way down a plain stack, the early layers learn
# slowly (or erratically); a shortcut gives the gradient a path that skips every block.

# %%
(x_train, y_train), _ = data.fashion_mnist()
x_batch, y_batch = data.stratified_subset(x_train, y_train, 32, seed=0)
x_batch = data.normalise(x_batch)
built = {}


def conv_gradient_norms(name):
    """Norm of the loss gradient for every conv kernel, input side first (cached per model)."""
    if name not in built:
        keras.utils.set_random_seed(0)  # the same initial weights every time
        model = models.build(name, input_shape=(28, 28, 1), num_classes=10)
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(y_batch, model(x_batch, training=True))
            loss = tf.reduce_mean(loss)
        kernels = [v for v in model.trainable_variables if len(v.shape) == 4]  # conv kernels: (f, f, c_in, k)
        grads = tape.gradient(loss, kernels)
        built[name] = np.array([float(tf.norm(g)) for g in grads])
    return built[name]


def draw_gradients(fig, depth):
    ax = fig.subplots()
    for kind, colour in (("plain", "tab:red"), ("resnet", "tab:blue")):
        norms = conv_gradient_norms(f"{kind}{depth}")
        ax.plot(np.arange(1, len(norms) + 1), norms, "o-", ms=3, color=colour,
                label=f"{'plain' if kind == 'plain' else 'residual'}-{depth}: first/last = {norms[0] / norms[-1]:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("convolution (1 = next to the input)")
    ax.set_ylabel("‖dLoss/dW‖ (log scale)")
    ax.set_title(f"{depth}-layer networks at initialisation, one batch of 32 Fashion-MNIST images")
    ax.legend()
    ax.grid(alpha=0.3)


LiveFigure(draw_gradients, {"depth": widgets.ToggleButtons(options=[20, 56], value=56, description="layers")},
           figsize=(9, 3.8))

# %%
rows = []
for depth in (20, 56):
    for kind in ("plain", "resnet"):
        norms = conv_gradient_norms(f"{kind}{depth}")
        rows.append({"model": f"{kind}{depth}", "convolutions": len(norms), "first layer": norms[0],
                     "last layer": norms[-1], "first / last": norms[0] / norms[-1],
                     "max / min over layers": norms.max() / norms.min()})
pd.DataFrame(rows).set_index("model")

# %% [markdown]
# **Question for the class:** the residual network's gradient is much more even
# from the first to the last layer. Which term of d(F(x) + x)/dx is responsible?
#
# ## 4.2 Training: deeper plain nets train worse, residual ones do not
#
# The four networks trained with the same data, recipe and seed. In the demo
# and grading profiles the curves come from `notebooks/data/depth_curves.json`
# (written by `python notebooks/data/depth_curves.py`, which runs the function
# below, `course.train.train_curves`; its recipe is printed); the full profile trains them here.

# %%
from course.train import train_curves

if profile.name == "full":
    recipe = {"train_images": 45000, "validation_images": 5000, "epochs": profile.epochs,
              "batch_size": profile.batch_size, "learning_rate": 1e-3, "seed": 0}
    curves = train_curves(("plain20", "plain56", "resnet20", "resnet56"), **recipe)
    source = "trained live in this notebook"
else:
    record = data.lecture_record("depth_curves")
    recipe, curves = record["recipe"], record["curves"]
    source = f"precomputed ({record['machine']}; {record['command']})"
print(f"curves {source}\nrecipe: {recipe}")

# %%
styles = {"plain20": ("tab:red", "--"), "plain56": ("tab:red", "-"),
          "resnet20": ("tab:blue", "--"), "resnet56": ("tab:blue", "-")}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name, curve in curves.items():
    colour, line = styles[name]
    epochs = np.arange(1, len(curve["loss"]) + 1)
    axes[0].plot(epochs, curve["loss"], line, color=colour, marker="o", ms=3, label=name)
    axes[1].plot(epochs, 100 * (1 - np.array(curve["accuracy"])), line, color=colour, marker="o", ms=3, label=name)
for ax, title in zip(axes, ["training loss", "training error (%)"]):
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
axes[0].legend()
fig.suptitle("plain (red) vs residual (blue); dashed: 20 layers, solid: 56 layers")
plt.tight_layout()
plt.show()

# %% [markdown]
# We compare **training** error, as He et al.'s figure does: it shows that the
# deeper plain network is harder to *optimise*, not that it overfits. The
# validation error follows the same order. (A run this short needs batch
# normalisation's running averages to follow quickly: `train.set_batchnorm_momentum`
# sets their momentum to 0.9 instead of Keras's 0.99, see notebook 5; with 0.99
# every one of these nets scores near chance in inference mode after a few
# hundred steps.)

# %%
final = pd.DataFrame({name: {"final training loss": c["loss"][-1],
                             "final training error (%)": 100 * (1 - c["accuracy"][-1]),
                             "final validation error (%)": 100 * (1 - c["val_accuracy"][-1]),
                             "training seconds": c["seconds"]} for name, c in curves.items()}).T
for deeper, shallower in (("plain56", "plain20"), ("resnet56", "resnet20")):
    delta = final.loc[deeper, "final training error (%)"] - final.loc[shallower, "final training error (%)"]
    print(f"{deeper} vs {shallower}: training error {'higher' if delta > 0 else 'lower'} by {abs(delta):.1f} points")
final.round(3)

# %% [markdown]
# **Question for the class:** the plain 56-layer network has more capacity
# than the 20-layer one: it could copy the 20 layers and make the other 36 the
# identity. Why does the optimiser not find that solution, and why is it easy
# for the residual network (what must F be for a block to be the identity)?
