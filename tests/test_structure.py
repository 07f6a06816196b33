"""The structural comparator: equal for equivalent models, a precise message otherwise."""
import keras
import pytest

from course.grading import GradingError
from course.structure import differences, expect_same_structure, layer_specs


def residual_block(padding="same", activation="relu", shortcut=True, branch_first=True, filters=8):
    x = keras.Input((16, 16, 8))
    def branch(t):
        t = keras.layers.Conv2D(filters, 3, padding=padding, activation=activation)(t)
        return keras.layers.Conv2D(8, 3, padding="same")(t)
    def skip(t):
        return keras.layers.Conv2D(8, 1)(t)
    if branch_first:
        a, b = branch(x), skip(x)
    else:
        b, a = skip(x), branch(x)
    y = keras.layers.Add()([a, b]) if shortcut else a
    return keras.Model(x, keras.layers.ReLU()(y))


def test_same_structure_whatever_the_names_and_branch_order():
    assert differences(residual_block(), residual_block(branch_first=False)) == []
    expect_same_structure(residual_block(), residual_block(branch_first=False), "block", quiet=True)


@pytest.mark.parametrize("wrong,words", [
    (dict(padding="valid", shortcut=False), "padding='same'"),
    (dict(activation="tanh"), "activation='relu'"),
    (dict(shortcut=False), "Add"),
    (dict(filters=16), "parameters"),
])
def test_each_mistake_is_named(wrong, words):
    reference = residual_block(shortcut=wrong.get("shortcut", True) if "padding" in wrong else True)
    with pytest.raises(GradingError) as err:
        expect_same_structure(residual_block(**wrong), reference, "residual block", hint="check the block")
    assert words in str(err.value) and "hint: check the block" in str(err.value)


def test_wrong_wiring_is_caught():
    x = keras.Input((8, 8, 4))
    a = keras.layers.Conv2D(4, 3, padding="same")(x)
    b = keras.layers.Conv2D(4, 3, padding="same")(a)
    good = keras.Model(x, keras.layers.Add()([a, b]))
    x2 = keras.Input((8, 8, 4))
    a2 = keras.layers.Conv2D(4, 3, padding="same")(x2)
    b2 = keras.layers.Conv2D(4, 3, padding="same")(a2)
    bad = keras.Model(x2, keras.layers.Add()([x2, b2]))  # shortcut from the input, not from a
    assert differences(good, good) == []
    assert any("fed by the wrong layers" in d for d in differences(bad, good))


def test_not_a_model_is_explained():
    with pytest.raises(TypeError, match="keras.Model"):
        layer_specs(keras.layers.Dense(3))


def test_specs_carry_keras_own_counts():
    model = residual_block()
    assert sum(s.params for s in layer_specs(model)) == model.count_params()


def test_padding_of_a_1x1_convolution_does_not_matter():
    def pointwise(padding):
        x = keras.Input((9, 9, 4))
        return keras.Model(x, keras.layers.Conv2D(8, 1, strides=2, padding=padding)(x))
    assert differences(pointwise("same"), pointwise("valid")) == []
