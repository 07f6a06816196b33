"""course.viz_oracles: each closed-form answer agrees with TensorFlow computing the same thing another way."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from course.grading import rel_error
from course.viz_oracles import (ascent_by_hand, cam_net, grad_cam_by_hand, linear_model, occlusion_by_hand,
                                relu_net, relu_net_gradient)


def class_score_gradient(net, image, class_index):
    x = tf.constant(image[None].astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = net(x)[0, class_index]
    return tape.gradient(score, x)[0].numpy()


def test_the_linear_models_weights_are_its_gradient_and_occlusion_is_the_score_of_occluded_images():
    net, weights, bias = linear_model((6, 5, 2), 3, seed=0)
    image = np.random.default_rng(1).uniform(size=(6, 5, 2))
    assert rel_error(class_score_gradient(net, image, 2), weights[..., 2]) < 1e-5
    got = occlusion_by_hand(weights, bias, image, 2, patch=3, stride=2, fill=0.5)
    assert got.shape == (2, 2)  # (6 - 3) // 2 + 1 rows, (5 - 3) // 2 + 1 columns
    occluded = image.copy()
    occluded[2:5, 0:3] = 0.5  # the patch at row 1, column 0
    assert abs(float(net(occluded[None].astype("float32"))[0, 2]) - got[1, 0]) < 1e-4


@tf.custom_gradient
def guided(x):
    return tf.nn.relu(x), lambda upstream: upstream * tf.cast(x > 0, x.dtype) * tf.cast(upstream > 0, x.dtype)


def relu_net_forward(net, image, relu):
    """relu_net's forward pass rebuilt from its weights, with the given ReLU."""
    (w1, b1), (w2, b2), (w3, b3) = (net.get_layer(n).get_weights() for n in ("d1", "d2", "d3"))
    x = tf.reshape(image, (1, -1))
    return relu(relu(x @ w1 + b1) @ w2 + b2) @ w3 + b3


def test_relu_net_gradients_by_hand_agree_with_the_tape_plain_and_guided():
    net = relu_net(seed=5)  # a draw where guidance changes the answer (for seed 3, class 1 it does not)
    image = np.random.default_rng(4).normal(size=(4, 4, 1)).astype("float32")
    assert rel_error(relu_net_gradient(net, image, 1, guided=False), class_score_gradient(net, image, 1)) < 1e-4
    x = tf.constant(image)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = relu_net_forward(net, x, guided)[0, 1]
    by_tape = tape.gradient(score, x).numpy()
    assert rel_error(relu_net_gradient(net, image, 1, guided=True), by_tape) < 1e-4
    assert rel_error(relu_net_gradient(net, image, 1, guided=True), relu_net_gradient(net, image, 1, False)) > 1e-2


def test_grad_cam_by_hand_agrees_with_the_gradient_of_the_score_at_the_pooled_maps():
    net = cam_net(seed=5)
    image = np.random.default_rng(6).normal(size=(8, 8, 2)).astype("float32")
    pool = net.get_layer("pool")
    head = tf.keras.Model(net.input, [pool.output, net.output])
    with tf.GradientTape() as tape:
        maps, scores = head(image[None])
        score = scores[0, 2]
    weights = tf.reduce_mean(tape.gradient(score, maps)[0], axis=(0, 1))
    cam = tf.nn.relu(tf.reduce_sum(weights * maps[0], axis=-1)).numpy()
    cam = tf.image.resize(cam[..., None], (8, 8), method="bilinear")[..., 0].numpy()
    expected = cam / cam.max()
    got = grad_cam_by_hand(net, image, 2)
    assert got.shape == (8, 8) and np.allclose(got, expected, atol=1e-5)
    assert not np.allclose(grad_cam_by_hand(net, image, 2, space_average=False), expected, atol=1e-3)


def test_ascent_by_hand_follows_the_closed_form():
    weights = np.random.default_rng(7).normal(size=(3, 3, 1))
    steps, rate, l2 = 25, 0.1, 0.5
    # I_{t+1} = I_t + rate * (w - 2 l2 I_t) from I_0 = 0 gives I_t = w / (2 l2) * (1 - (1 - 2 rate l2)^t)
    closed_form = weights / (2 * l2) * (1 - (1 - 2 * rate * l2) ** steps)
    assert rel_error(ascent_by_hand(weights, steps, rate, l2), closed_form) < 1e-10
    assert rel_error(ascent_by_hand(weights, steps, rate, l2, direction=-1.0), closed_form) > 0.5
