"""Wrong-but-plausible answers to assignment 06_transfer; the tests must reject every one.

Each mistake is the source solution with one small edit (see 01_convolution.py for the pattern):
if the solution changes so that an edit no longer applies, importing this module fails and says
which mistake to update.

MISTAKES = {"description": {"<solution cell grade_id>": "<full replacement source of that cell>"}}
"""
from __future__ import annotations

from autograder.samples.edits import SolutionEdits

_solution = SolutionEdits("06_transfer")
_edit = _solution.edit


_COMPILE = """    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
"""

MISTAKES = {
    # build_feature_extractor
    "base not frozen":
        _edit("feature_extractor", ("    base.trainable = False\n", "")),
    "new head on the old logits instead of the features":
        _edit("feature_extractor", ('source.get_layer("features").output', "source.output")),
    "pretrained weights not used (architecture rebuilt)":
        _edit("feature_extractor", ('base = keras.Model(source.input, source.get_layer("features").output, name="base")',
                                    'fresh = pretrained.build("fashion_source5")\n'
                                    '    base = keras.Model(fresh.input, fresh.get_layer("features").output, name="base")')),
    "feature extractor taken from course.transfer":
        _solution.body("feature_extractor", "from course import transfer\n"
                       "    return transfer.build_feature_extractor(source, num_classes)"),
    # unfreeze_top
    "no recompile after unfreezing":
        _edit("unfreeze_top", (_COMPILE, "")),
    "same learning rate as the first stage (no 1/10)":
        _edit("unfreeze_top", ("keras.optimizers.Adam(learning_rate)", "keras.optimizers.Adam(LEARNING_RATE)")),
    "batch norm unfrozen (training mode while fine-tuning)":
        _edit("unfreeze_top", ("layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)",
                               "layer.trainable = i >= start")),
    "whole base unfrozen":
        _edit("unfreeze_top", ("layer.trainable = i >= start and", "layer.trainable =")),
    "first_layer itself left frozen (off by one)":
        _edit("unfreeze_top", ("i >= start", "i > start")),
    # build_two_head_model
    "old head re-initialised instead of reused":
        _edit("two_head_model", ('old = source.get_layer("logits")(features)',
                                 'old = keras.layers.Dense(5, name="old_head")(features)')),
    "trunk frozen (that is feature extraction, not LwF)":
        _edit("two_head_model", ("layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)",
                                 "layer.trainable = False")),
    "trunk batch norm left trainable":
        _edit("two_head_model", ("layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)",
                                 "layer.trainable = True")),
}
