"""course.transfer: frozen layers stay frozen under fit (weights and batch-norm statistics), only the intended
layers learn, and the fast split (frozen part run once) trains exactly like the whole model."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course import data, pretrained, train, transfer  # noqa: E402


def snapshot(model):
    """path -> value of every weight, trainable or not (batch norm's moving statistics included)."""
    return {w.path: keras.ops.convert_to_numpy(w).copy() for w in model.weights}


def changed(before, after):
    return sorted(k for k in before if not np.array_equal(before[k], after[k]))


@pytest.fixture(scope="module")
def images(fashion):
    (x, y), _ = fashion
    x, y = data.fashion_classes(x, y, transfer.SIMILAR_CLASSES)
    return data.normalise(x[:48]), y[:48]


def features_oracle(x):
    """The untouched source model's `features` output: an independent copy of the shipped weights."""
    source = pretrained.load(transfer.SOURCE)
    return np.asarray(keras.Model(source.input, source.get_layer("features").output)(x, training=False))


def test_similar_target_is_what_the_source_never_saw():
    assert sorted(transfer.SOURCE_CLASSES + transfer.SIMILAR_CLASSES) == list(range(10))
    assert len(transfer.SIMILAR_CLASSES) == 5


@pytest.mark.slow
def test_feature_extractor_trains_only_its_head(images):
    x, y = images
    model = transfer.build_feature_extractor(pretrained.load(transfer.SOURCE), 5)
    np.testing.assert_allclose(model.get_layer("base")(x, training=False), features_oracle(x), rtol=1e-5, atol=1e-5)
    assert sorted(w.path for w in model.trainable_weights) == ["head/bias", "head/kernel"]
    base_before, head_before = snapshot(model.get_layer("base")), snapshot(model.get_layer("head"))
    train.compile_classifier(model, 1e-2, from_logits=True)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert changed(base_before, snapshot(model.get_layer("base"))) == []  # weights and moving statistics
    assert changed(head_before, snapshot(model.get_layer("head"))) == ["head/bias", "head/kernel"]


@pytest.mark.slow
def test_unfreeze_top_trains_from_the_first_layer_on_and_keeps_batch_norm_frozen(images):
    x, y = images
    model = transfer.build_feature_extractor(pretrained.load(transfer.SOURCE), 5)
    transfer.unfreeze_top(model, "conv3", 3e-4)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-4)  # recompiled with the lower rate
    base = model.get_layer("base")
    before = snapshot(base)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    moved = {path.split("/")[0] for path in changed(before, snapshot(base))}
    assert moved == {"conv3", "features"}  # not conv1/conv2, and no batch-norm statistics


def test_unfreeze_top_names_the_layers_when_asked_for_a_wrong_one():
    model = transfer.build_feature_extractor(pretrained.load(transfer.SOURCE), 5)
    with pytest.raises(ValueError, match="no layer 'conv9'.*conv3"):
        transfer.unfreeze_top(model, "conv9", 1e-4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        transfer.build_feature_extractor(pretrained.load(transfer.SOURCE), 1)
    with pytest.raises(ValueError, match="first_layer must be one of"):
        transfer.split(pretrained.load(transfer.SOURCE), "logits", 5)


@pytest.mark.slow
def test_batch_norm_keeps_its_statistics_only_when_frozen(images):
    """The Keras 3 pitfall the module works around: training=False on the call is overridden by fit."""
    x, y = images
    drift = {}
    for frozen in (False, True):
        source = pretrained.load(transfer.SOURCE)
        base = transfer.base_of(source)
        if frozen:
            transfer.freeze_batch_norm(base)
        inputs = keras.Input((28, 28, 1))
        model = keras.Model(inputs, keras.layers.Dense(5)(base(inputs, training=False)))
        train.compile_classifier(model, 1e-3, from_logits=True)
        before = keras.ops.convert_to_numpy(base.get_layer("bn1").moving_mean).copy()
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        drift[frozen] = np.abs(keras.ops.convert_to_numpy(base.get_layer("bn1").moving_mean) - before).max()
    assert drift[False] > 1e-4 and drift[True] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("fine_tune", [False, True], ids=["feature_extraction", "fine_tuning"])
def test_split_trains_exactly_like_the_whole_model(images, fine_tune):
    """Running the frozen bottom once and training the top on its output = training the whole model."""
    x, y = images
    keras.utils.set_random_seed(0)
    whole = transfer.build_feature_extractor(pretrained.load(transfer.SOURCE), 5)
    bottom, top = transfer.split(pretrained.load(transfer.SOURCE), "conv3", 5)
    top.get_layer("head").set_weights(whole.get_layer("head").get_weights())
    np.testing.assert_allclose(top(bottom(x)), whole(x), rtol=1e-4, atol=1e-5)
    if fine_tune:
        transfer.unfreeze_top(whole, "conv3", 0.05)
        transfer.set_top_trainable(top, True)
    for model in (whole, top):
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert len(top.trainable_weights) == len(whole.trainable_weights) == (5 if fine_tune else 2)  # conv3 has no bias
    bottom_before = snapshot(bottom)
    whole.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    top.fit(np.asarray(bottom(x)), y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert changed(bottom_before, snapshot(bottom)) == []
    for name in ("head", "conv3", "bn3", "features"):
        layer_whole = whole.get_layer(name) if name == "head" else whole.get_layer("base").get_layer(name)
        for a, b in zip(layer_whole.get_weights(), top.get_layer(name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.slow
def test_measure_cell_reports_every_strategy(images, fashion):
    x, y = images
    (_, _), (xt, yt) = fashion
    xt, yt = data.fashion_classes(xt, yt, transfer.SIMILAR_CLASSES)
    result = transfer.measure_cell(x, y, data.normalise(xt[:200]), yt[:200], transfer.Budget(epochs=5))
    assert list(result) == list(transfer.STRATEGIES)
    assert all(0.0 <= acc <= 1.0 for acc in result.values())
    # 48 images, 20 steps: pretrained features already separate the classes (chance is 0.2)
    assert result["feature extraction"] > 0.3 and result["fine-tuning"] > 0.3
    with pytest.raises(ValueError, match="unknown strategies"):
        transfer.measure_cell(x, y, x, y, transfer.Budget(epochs=1), strategies=("magic",))


def test_decay_steps_bring_the_rate_down_to_zero_by_the_last_step(images):
    x, y = images
    model = train.compile_classifier(pretrained.fashion_cnn_architecture(5), 3e-3, from_logits=True, decay_steps=4)
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    model.fit(x, y, batch_size=12, epochs=1, verbose=0)  # 48 images: 4 steps
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    constant = train.compile_classifier(pretrained.fashion_cnn_architecture(5), 3e-3, from_logits=True)
    constant.fit(x, y, batch_size=12, epochs=1, verbose=0)
    assert float(constant.optimizer.learning_rate) == pytest.approx(3e-3)
