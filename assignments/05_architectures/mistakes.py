"""Wrong-but-plausible answers to assignment 05_architectures; the tests must reject every one.

Each mistake is the source solution with one small edit, so the difference between
a right and a wrong submission is exactly the mistake named in the key. Building
them from the solution (rather than retyping it) keeps the two in step: if the
solution changes so that an edit no longer applies, importing this module fails
and says which mistake to update. The last entries copy the answer key from the
model zoo, which must score zero as well.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from functools import partial

from autograder.samples.edits import MARKERS, SolutionEdits

_solution = SolutionEdits("05_architectures")
_edit = partial(_solution.edit, first_only=True)
_body = _solution.body


MISTAKES = {
    # lenet5
    "LeNet-5 with max pooling instead of average pooling":
        _edit("lenet5", ("layers.AveragePooling2D(2)(x)", "layers.MaxPooling2D(2)(x)")),
    "LeNet-5 with 'same' convolutions":
        _edit("lenet5", ("layers.Conv2D(6, 5, activation=activation)", "layers.Conv2D(6, 5, padding='same', activation=activation)")),
    "LeNet-5 never pads a 28x28 image to 32x32":
        _edit("lenet5", ("if (height, width) != (32, 32):", "if False:")),
    "LeNet-5 ignores the activation argument":
        _edit("lenet5", ("x = layers.Dense(84, activation=activation)(x)", "x = layers.Dense(84, activation='tanh')(x)")),
    # vgg_stage
    "VGG stage with 'valid' padding":
        _edit("vgg_stage", ('padding="same"', 'padding="valid"')),
    "VGG stage without ReLU":
        _edit("vgg_stage", (', activation="relu"', "")),
    "VGG stage pooling with stride 1":
        _edit("vgg_stage", ("MaxPooling2D(2, strides=2)", "MaxPooling2D(2, strides=1)")),
    # inception_module
    "inception branches concatenated on the wrong axis":
        _edit("inception_module", ("layers.Concatenate()", "layers.Concatenate(axis=1)")),
    "5x5 branch without its 1x1 reduction":
        _edit("inception_module", ("conv(conv(x, n5x5_reduce, 1), n5x5, 5)", "conv(x, n5x5, 5)")),
    "pool branch without the 1x1 projection":
        _edit("inception_module", ("pool = conv(layers.MaxPooling2D(3, strides=1, padding=\"same\")(x), pool_proj, 1)",
                                   "pool = layers.MaxPooling2D(3, strides=1, padding=\"same\")(x)")),
    "inception convolutions with 'valid' padding":
        _edit("inception_module", ('padding="same", activation="relu"', 'padding="valid", activation="relu"')),
    "inception pooling with stride 2":
        _edit("inception_module", ("MaxPooling2D(3, strides=1", "MaxPooling2D(3, strides=2")),
    # residual_block
    "missing ReLU after the add":
        _edit("residual_block", ("return layers.Activation(\"relu\")(y)", "return y")),
    "projection shortcut without the stride":
        _edit("residual_block", ("layers.Conv2D(filters, 1, strides=stride, use_bias=False)", "layers.Conv2D(filters, 1, use_bias=False)")),
    "projection shortcut on every block, even when the shape fits":
        _edit("residual_block", ("if stride != 1 or x.shape[-1] != filters:", "if True:")),
    "residual convolutions with 'valid' padding":
        _edit("residual_block", ('strides=stride, padding="same"', 'strides=stride, padding="valid"')),
    "residual convolutions with biases":
        _edit("residual_block", ('padding="same", use_bias=False)(x)', 'padding="same")(x)')),
    "the stride on the second convolution of the block":
        _edit("residual_block", ("layers.Conv2D(filters, 3, strides=stride, padding=\"same\", use_bias=False)(x)",
                                 "layers.Conv2D(filters, 3, padding=\"same\", use_bias=False)(x)"),
              ("y = layers.Conv2D(filters, 3, padding=\"same\", use_bias=False)(y)",
               "y = layers.Conv2D(filters, 3, strides=stride, padding=\"same\", use_bias=False)(y)")),
    "shortcut added before the second batch norm":
        _edit("residual_block", ("    y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)\n    if residual:",
                                 "    if residual:"),
              ("    return layers.Activation(\"relu\")(y)",
               "    y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)\n    return layers.Activation(\"relu\")(y)")),
    "plain twin keeps the shortcut":
        _edit("residual_block", ("    if residual:\n", "    if True:\n")),
    # bottleneck_block
    "bottleneck without the 4x expansion":
        _edit("bottleneck_block", ("out = 4 * filters", "out = filters")),
    "bottleneck stride on the 3x3 instead of the first 1x1":
        _edit("bottleneck_block", ("[(1, filters, stride), (3, filters, 1)]", "[(1, filters, 1), (3, filters, stride)]")),
    "bottleneck never projects the shortcut":
        _edit("bottleneck_block", ("if stride != 1 or x.shape[-1] != out:", "if False:")),
    "bottleneck missing ReLU after the add":
        _edit("bottleneck_block", ("return layers.Activation(\"relu\")(layers.Add()([shortcut, y]))",
                                   "return layers.Add()([shortcut, y])")),
    # dense_block
    "dense block adding instead of concatenating":
        _edit("dense_block", ("x = layers.Concatenate()([x, y])", "x = layers.Add()([x, y])")),
    "dense block without the 1x1 bottleneck":
        _edit("dense_block", ("[(1, 4 * growth_rate), (3, growth_rate)]", "[(3, growth_rate)]")),
    "dense layers chained without keeping earlier maps":
        _edit("dense_block", ("x = layers.Concatenate()([x, y])", "x = y")),
    "dense block in post-activation order (conv before BN-ReLU)":
        _body("dense_block", """
    for _ in range(num_layers):
        y = x
        for size, width in [(1, 4 * growth_rate), (3, growth_rate)]:
            y = layers.Conv2D(width, size, padding="same", use_bias=False)(y)
            y = layers.BatchNormalization(epsilon=BN_EPSILON)(y)
            y = layers.Activation("relu")(y)
        x = layers.Concatenate()([x, y])
    return x
"""),
    # transition
    "transition without compression":
        _edit("transition", ("int(x.shape[-1] * compression)", "x.shape[-1]")),
    "transition without pooling":
        _edit("transition", ("return layers.AveragePooling2D(2, strides=2)(x)", "return x")),
    "transition with max pooling":
        _edit("transition", ("AveragePooling2D(2, strides=2)", "MaxPooling2D(2, strides=2)")),
    # cifar_net
    "depth 6n + 2 not checked":
        _edit("cifar_net", ("    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:\n"
                            "        raise ValueError(f\"depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110...), got {depth!r}\")\n",
                            "")),
    "every stage starts with a stride-2 block":
        _edit("cifar_net", ("stride=2 if stage > 0 and b == 0 else 1", "stride=2 if b == 0 else 1")),
    "n blocks in total instead of n per stage":
        _edit("cifar_net", ("n = (depth - 2) // 6", "n = max(1, (depth - 2) // 18)")),
    "cifar net ignores residual=False":
        _edit("cifar_net", ("residual=residual)", "residual=True)")),
    "cifar net flattens instead of global average pooling":
        _edit("cifar_net", ("layers.GlobalAveragePooling2D()(x)", "layers.Flatten()(x)")),
    # conv_gradient_norms
    "gradients with batch norm in inference mode":
        _edit("conv_gradient_norms", ("model(x, training=True)", "model(x, training=False)")),
    "loss summed over the batch":
        _edit("conv_gradient_norms", ("tf.reduce_mean(", "tf.reduce_sum(")),
    "squared gradient norms":
        _edit("conv_gradient_norms", ("float(tf.norm(gradient))", "float(tf.reduce_sum(gradient ** 2))")),
    "Dense kernels counted as convolutions":
        _edit("conv_gradient_norms", ("isinstance(layer, layers.Conv2D)", "isinstance(layer, (layers.Conv2D, layers.Dense))")),
    # the answer key copied from the model zoo
    "residual block taken from course.models":
        _body("residual_block", """
    from course.models import resnet
    return resnet.basic_block(x, filters, stride, name=f"block{id(x)}", residual=residual)
"""),
    "inception module taken from course.models (imported at the top of the cell)":
        {"inception_module": "from course.models.inception import inception_module as zoo_module\n\n\n"
                             + _solution.cells["inception_module"][:_solution.cells["inception_module"].index(MARKERS[0])]
                             + "return zoo_module(x, n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj, "
                               "name=f\"m{id(x)}\")\n"},
    "gradient norms taken from the tests' own measurement":
        _body("conv_gradient_norms", """
    from course.model_checks import conv_kernel_gradient_norms
    return conv_kernel_gradient_norms(model, x, y)
"""),
    "LeNet-5 built by models.build":
        _body("lenet5", """
    return models.build("lenet5", input_shape=input_shape, num_classes=num_classes, activation=activation)
"""),
}
