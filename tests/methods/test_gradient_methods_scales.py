"""Gradient methods on gradients of very different sizes, on zero gradients and on absent
tasks, against values computed in numpy from the papers' definitions.

A task is absent from a step when the global batch holds no known label for it; a small
gradient never makes it absent. So every method's update changes continuously as one
task's gradient shrinks towards zero, and a present task's zero gradient keeps its part
(MGDA's min-norm point is then that zero).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.step import model as model_lib
from mtl_keras.training import strategy as strategy_lib
from test_gradient_methods import float32_gramian
from test_gradient_methods import make
from test_gradient_methods import numpy_bargaining_weights
from test_gradient_methods import numpy_config_update
from test_gradient_methods import numpy_dual_cone_weights
from test_gradient_methods import numpy_min_norm_point
from test_gradient_methods import random_jacobian
from test_gradient_methods import weights_of


def rows_with(cosines, norms):
    """Gradients (rows) with these pairwise cosines and norms."""
    return np.linalg.cholesky(np.asarray(cosines, np.float64)) * np.asarray(norms)[:, None]


def angle_in_degrees(first, second):
    cosine = first @ second / np.linalg.norm(first) / np.linalg.norm(second)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


# --------------------------------------------------------------------------- Nash-MTL

MIXED_COSINES = [[1.0, 0.3, -0.5], [0.3, 1.0, 0.1], [-0.5, 0.1, 1.0]]
NASH_CASES = {
    "random": random_jacobian(20, 3, 5),
    "conflicting": rows_with([[1, -0.3, -0.3], [-0.3, 1, -0.3], [-0.3, -0.3, 1]], [1, 2, 0.5]),
    "nearly opposite": rows_with([[1, -0.98], [-0.98, 1]], [1, 3]),
    "nearly parallel": rows_with([[1, 0.999, 0.2], [0.999, 1, 0.2], [0.2, 0.2, 1]], [1, 1.5, 1]),
    "norms 1 and 1e-4": rows_with(MIXED_COSINES, [1, 1e-4, 1]),
    "norms 1 and 1e-6": rows_with(MIXED_COSINES, [1, 1e-6, 2]),
    "orthogonal, norms 0.1": 0.1 * np.eye(2),
}


@pytest.mark.parametrize("case", NASH_CASES)
def test_nash_mtl_weights_solve_the_bargaining_equation_of_the_gramian(case):
    jacobian = NASH_CASES[case]
    weights = weights_of(make("nash_mtl", len(jacobian), max_norm=0), jacobian)
    expected = numpy_bargaining_weights(float32_gramian(jacobian))
    # REGULARIZATION (1e-6 of each squared norm) moves them by at most 3e-5 here.
    np.testing.assert_allclose(weights, expected, rtol=1e-4)


def test_nash_mtl_two_orthogonal_gradients_of_norm_0_1():
    # alpha_i = 1 / |g_i| = 10: the update is the sum of the unit gradients, of norm sqrt(2).
    jacobian = 0.1 * np.eye(2)
    weights = weights_of(make("nash_mtl", 2, max_norm=0), jacobian)
    np.testing.assert_allclose(weights, [10.0, 10.0], rtol=1e-5)
    assert np.linalg.norm(weights @ jacobian) == pytest.approx(np.sqrt(2), rel=1e-5)


@pytest.mark.parametrize("ratio", [1e-2, 1e-4, 1e-6])
def test_nash_mtl_direction_with_gradients_of_very_different_sizes(ratio):
    # g1 = e1, g2 = ratio e2: alpha_i = 1 / |g_i|, so the update is along (1, 1).
    jacobian = np.array([[1.0, 0.0], [0.0, ratio]])
    update = weights_of(make("nash_mtl", 2), jacobian) @ jacobian
    assert angle_in_degrees(update, np.array([1.0, 1.0])) < 0.1
    assert np.linalg.norm(update) == pytest.approx(1, rel=1e-5)  # sqrt(2), clipped to 1


def test_nash_mtl_exactly_opposite_gradients_give_finite_weights_and_no_update():
    jacobian = np.array([[1.0, 2.0], [-2.0, -4.0]])
    weights = weights_of(make("nash_mtl", 2, max_norm=0), jacobian)
    assert np.all(np.isfinite(weights)) and np.all(weights > 0)
    assert np.linalg.norm(weights @ jacobian) < 1e-6 * np.linalg.norm(weights[:, None] * jacobian)


# ------------------------------------------------------------ one gradient shrinking

SIZES = 10.0 ** np.linspace(-5, -7, 81)  # across 1e-6, where the old absent rule cut
FIRST, THIRD = np.array([1.0, 0.2, -0.1]), np.array([0.3, 1.0, 0.4])
SHRINKING = np.array([-0.6, 0.3, 0.74]) / np.linalg.norm([-0.6, 0.3, 0.74])  # conflicts
CAGRAD_C = 0.4


def shrinking(size):
    return np.stack([FIRST, size * SHRINKING, THIRD])


def numpy_imtl_update(jacobian):
    """The paper's closed form on the vectors: alpha_2..T = g_1 U^T (D U^T)^-1, with the rows
    of D the g_1 - g_i and of U the u_1 - u_i, alpha_1 = 1 - their sum."""
    units = jacobian / np.linalg.norm(jacobian, axis=1, keepdims=True)
    differences, unit_differences = jacobian[:1] - jacobian[1:], units[:1] - units[1:]
    alpha = jacobian[0] @ unit_differences.T @ np.linalg.inv(differences @ unit_differences.T)
    return np.r_[1 - alpha.sum(), alpha] @ jacobian


def numpy_cagrad_update(jacobian):
    """max over |d - g0| <= c |g0| of min_i <g_i, d>, divided by 1 + c^2. The smallest task
    decides the minimum: the best d is the ball's farthest point along its direction, while
    the other tasks' products stay above the smallest one's there (checked)."""
    average = jacobian.mean(axis=0)
    direction = jacobian[1] / np.linalg.norm(jacobian[1])
    best = average + CAGRAD_C * np.linalg.norm(average) * direction
    assert np.all(np.delete(jacobian, 1, axis=0) @ best > jacobian[1] @ best)
    return best / (1 + CAGRAD_C ** 2)


def numpy_nash_update(jacobian):
    update = numpy_bargaining_weights(float32_gramian(jacobian)) @ jacobian
    return update / max(np.linalg.norm(update), 1.0)  # max_norm = 1


def numpy_upgrad_update(jacobian):
    gramian = jacobian @ jacobian.T
    regularized = gramian / np.trace(gramian) + 1e-4 * np.eye(len(gramian))  # TorchJD's
    weights = sum(numpy_dual_cone_weights(regularized, row / len(gramian))
                  for row in np.eye(len(gramian)))
    return weights @ jacobian


def numpy_dualproj_update(jacobian):
    gramian = jacobian @ jacobian.T
    regularized = gramian / np.trace(gramian) + 1e-4 * np.eye(len(gramian))  # TorchJD's
    return numpy_dual_cone_weights(regularized, np.full(len(gramian), 1 / len(gramian))
                                   ) @ jacobian


def numpy_fairgrad_update(jacobian):
    # alpha = 1: G w = 1 / w, unclipped.
    return numpy_bargaining_weights(float32_gramian(jacobian)) @ jacobian


REFERENCES = {"mgda": numpy_min_norm_point, "imtl": numpy_imtl_update,
              "cagrad": numpy_cagrad_update, "nash_mtl": numpy_nash_update,
              "upgrad": numpy_upgrad_update, "dualproj": numpy_dualproj_update,
              "config": numpy_config_update, "fairgrad": numpy_fairgrad_update}


@pytest.mark.parametrize("name", REFERENCES)
def test_the_update_changes_continuously_as_a_task_gradient_shrinks(name):
    method = make(name, 3, **({"loss_scales": 0} if name == "imtl" else {}))
    weights_for = tf.function(method.task_weights)  # traced once for all the sizes
    updates = []
    for size in SIZES:
        jacobian = shrinking(size)
        weights = weights_for(tf.constant(jacobian @ jacobian.T, tf.float32), tf.ones([3]),
                              tf.constant(0, tf.int64), present=tf.ones([3], tf.bool))
        update = weights.numpy().astype(np.float64) @ jacobian
        expected = REFERENCES[name](jacobian)
        assert np.linalg.norm(update - expected) <= 1e-4 * np.linalg.norm(expected), (
            size, update, expected)
        updates.append(update)
    # No jump: from one size to the next (1.06 times smaller) the update moves by less
    # than a fifth of its norm (MGDA's and IMTL-G's shrink with the gradient, by 6%).
    updates = np.array(updates)
    steps = np.linalg.norm(np.diff(updates, axis=0), axis=1)
    norms = np.maximum(np.linalg.norm(updates[1:], axis=1), np.linalg.norm(updates[:-1], axis=1))
    assert np.all(steps <= 0.2 * norms), steps / norms


# ------------------------------------------------------- zero gradients, absent tasks

def test_mgda_with_a_present_zero_gradient_is_that_zero():
    # 0 is in the hull: the min-norm point, hence the update, is 0.
    jacobian = np.stack([FIRST, np.zeros(3), THIRD])
    weights = weights_of(make("mgda", 3), jacobian)
    np.testing.assert_allclose(numpy_min_norm_point(jacobian), 0.0, atol=1e-12)
    np.testing.assert_allclose(weights @ jacobian, 0.0, atol=1e-6)
    np.testing.assert_allclose(weights, [0.0, 1.0, 0.0], atol=1e-6)
    # The same task absent: left out of the hull.
    absent = weights_of(make("mgda", 3), jacobian, present=[True, False, True])
    np.testing.assert_allclose(absent @ jacobian, numpy_min_norm_point(jacobian[[0, 2]]),
                               atol=1e-5)


@pytest.mark.parametrize("name", ["mgda", "pcgrad", "cagrad", "imtl", "nash_mtl",
                                  "aligned_mtl", "upgrad", "dualproj", "config", "fairgrad"])
def test_an_absent_task_gets_weight_0_and_leaves_the_others_weights(name):
    jacobian = random_jacobian(30, 3, 4)
    jacobian[1] = 0.0  # an absent task's gradient
    weights = weights_of(make(name, 3), jacobian, present=[True, False, True])
    without = weights_of(make(name, 2), jacobian[[0, 2]])
    assert weights[1] == 0.0
    np.testing.assert_allclose(weights[[0, 2]], without, rtol=1e-5, atol=1e-7)


class _ThreeArguments(base.Method):
    """A method written without `present`."""

    level = "gradient"

    def task_weights(self, gramian, losses, step):
        return tf.linalg.diag_part(gramian)


def test_a_method_without_the_present_argument_is_called_with_it():
    method = _ThreeArguments(["a", "b"])
    weights = method.task_weights(tf.eye(2) * 3.0, tf.ones([2]), 0, present=tf.constant([1, 0]))
    np.testing.assert_allclose(weights, [3.0, 3.0])


# ------------------------------------------------------------------ the train step

class _PresenceRecorder(base.Method):
    """Records the tasks the train step says are present, and weighs every task by their
    number: a replica that counted differently would move the shared weights differently."""

    level = "gradient"

    def create_variables(self):
        self.seen = self.state_variable("seen", shape=(self.task_count,))

    def task_weights(self, gramian, losses, step, present=None):
        present = tf.cast(present, tf.float32)
        self.seen.assign(present)
        return tf.fill([self.task_count], 1.0 + tf.reduce_sum(present))


def _train_one_step(strategy, initial):
    """One step on 8 examples: task `a` known only in the first half (the first replica's),
    `b` everywhere, `c` nowhere. Returns (the recorded presence, the model's weights)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = {name: rng.normal(size=(8, 1)).astype(np.float32) for name in "abc"}
    masks = {"a": np.repeat([1.0, 0.0], 4).astype(np.float32), "b": np.ones(8, np.float32),
             "c": np.zeros(8, np.float32)}
    with strategy.scope():
        inputs = keras.Input((4,))
        shared = keras.layers.Dense(3, activation="tanh", name="trunk")(inputs)
        model = model_lib.MultiTaskModel(
            inputs, {name: keras.layers.Dense(1, name=name)(shared) for name in "abc"})
        model.set_weights(initial)
        method = _PresenceRecorder(model.task_names)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", weighting=method)
    model.fit(tf.data.Dataset.from_tensors((x, y, masks)).repeat(), steps_per_epoch=1,
              epochs=1, verbose=0, shuffle=False)
    return method.seen.numpy(), [variable.numpy() for variable in model.weights]


def test_the_train_step_passes_the_tasks_with_known_labels_in_the_global_batch():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(3, name="trunk")(inputs)
    initial = model_lib.MultiTaskModel(
        inputs, {name: keras.layers.Dense(1, name=name)(shared) for name in "abc"}).get_weights()
    seen, one = _train_one_step(tf.distribute.get_strategy(), initial)
    np.testing.assert_array_equal(seen, [1.0, 1.0, 0.0])
    seen, two = _train_one_step(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), initial)
    np.testing.assert_array_equal(seen, [1.0, 1.0, 0.0])
    assert not np.allclose(one[0], initial[0])  # it trained
    for first, second in zip(one, two):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)
