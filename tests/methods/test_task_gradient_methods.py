"""The methods that need more than the Gramian (GradDrop, the trimmed mean, DB-MTL, MoCo, and
MoDo and SDMGrad on three sub-batches' gradients: the task-gradient level) and the Gramian
methods of robust aggregation and cosine targets (Krum, GradVac), against numpy written here
from the papers' definitions on the vectors themselves; their properties (task order,
non-conflicting gradients, a shrinking gradient, one task); and the train step's
task-gradient level (its sub-batches included) against gradients taken by hand."""

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import run_main

from mtl_keras import errors
from mtl_keras import methods
from mtl_keras.config import Config
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib
from mtl_keras.methods import pcgrad
from mtl_keras.step import model as model_lib
from mtl_keras.training import preparation
from mtl_keras.training import strategy as strategy_lib

TASK_GRADIENT_METHODS = [name for name in methods.METHODS.names()
                         if methods.METHODS.get(name).level == "task_gradients"]


def make(name, task_count, dimension=None, **options):
    method = methods.make(name, [f"task{index}" for index in range(task_count)], seed=5,
                          options=options)
    if not method.built:
        method.build((task_count, dimension))
    return method


def update_of(method, jacobian, losses=None, step=0, present=None):
    """(update, weights) of `method` for the gradients in the rows of `jacobian`: a
    task-gradient method's own, a Gramian method's weights @ jacobian."""
    jacobian = np.asarray(jacobian, np.float64)
    task_count = len(jacobian)
    losses = tf.ones([task_count]) if losses is None else tf.constant(losses, tf.float32)
    present = tf.ones([task_count], tf.bool) if present is None else tf.constant(present)
    step = tf.constant(step, tf.int64)
    if method.level == "task_gradients":
        if method.samples > 1 and jacobian.ndim == 2:  # the same gradients in every sample
            jacobian = np.stack([jacobian] * method.samples)
        update, weights = method.combine(tf.constant(jacobian, tf.float32), losses, step,
                                         present=present)
        return update.numpy().astype(np.float64), None if weights is None else weights.numpy()
    weights = method.task_weights(tf.constant(jacobian @ jacobian.T, tf.float32), losses, step,
                                  present=present).numpy().astype(np.float64)
    return weights @ jacobian, weights


def random_jacobian(seed, task_count, dimension):
    return np.random.default_rng(seed).normal(size=(task_count, dimension))


# ---------------------------------------------------------------------------- GradDrop

def numpy_graddrop(jacobian, uniform, leak=0.0):
    """Chen et al.'s Algorithm 1, lines 10-15, coordinate by coordinate."""
    update = np.zeros(jacobian.shape[1])
    for column in range(jacobian.shape[1]):
        values = jacobian[:, column]
        purity = 0.5 * (1 + values.sum() / np.abs(values).sum()) if np.any(values) else 0.5
        for value in values:
            kept = (uniform[column] < purity and value > 0) or (
                uniform[column] >= purity and value < 0)
            update[column] += (leak + (1 - leak) * kept) * value
    return update


def graddrop_draws(method, step, dimension):
    """The uniform draws of the step, from the method's documented seed of the step."""
    return tf.random.stateless_uniform([dimension], seed=method.random_seed(step)).numpy()


@pytest.mark.parametrize("leak", [0.0, 0.3])
def test_graddrop_matches_the_algorithm_with_the_steps_draws(leak):
    # Mixed signs in most of the 40 coordinates: purities strictly between 0 and 1.
    jacobian = random_jacobian(0, 3, 40)
    method = make("graddrop", 3, 40, leak=leak)
    for step in (0, 3):
        update, weights = update_of(method, jacobian, step=step)
        expected = numpy_graddrop(jacobian, graddrop_draws(method, step, 40), leak)
        np.testing.assert_allclose(update, expected, rtol=1e-5, atol=1e-6)
        assert weights is None
    # The draws change with the step, so do the dropped signs.
    assert not np.allclose(update_of(method, jacobian, step=0)[0],
                           update_of(method, jacobian, step=1)[0])


def test_graddrop_keeps_each_sign_with_its_purity():
    # One coordinate where the positive gradients carry 3/4 of the mass: over 400 steps the
    # update is the positive part in about 75 % of them (the binomial's sd is about 2 %).
    jacobian = np.array([[3.0], [-1.0]])
    method = make("graddrop", 2, 1)
    kept_positive = [update_of(method, jacobian, step=step)[0][0] == 3.0 for step in range(400)]
    assert abs(np.mean(kept_positive) - 0.75) < 0.07


def test_graddrop_sums_gradients_that_agree_in_sign_and_ignores_task_order():
    agreeing = np.array([[1.0, -2.0, 0.0, 3.0], [0.5, -1.0, 2.0, 0.0], [2.0, -0.1, 1.0, 1.0]])
    method = make("graddrop", 3, 4)
    np.testing.assert_allclose(update_of(method, agreeing)[0], agreeing.sum(axis=0), rtol=1e-6)
    jacobian = random_jacobian(1, 3, 30)
    permuted = jacobian[[2, 0, 1]]
    np.testing.assert_allclose(update_of(method, permuted, step=4)[0],
                               update_of(method, jacobian, step=4)[0], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------ trimmed mean

def numpy_trimmed_mean(jacobian, trim):
    ordered = np.sort(jacobian, axis=0)
    return ordered[trim:len(jacobian) - trim].mean(axis=0)


@pytest.mark.parametrize("task_count, trim", [(3, 1), (5, 1), (5, 2), (4, 0)])
def test_trimmed_mean_matches_the_sorted_columns(task_count, trim):
    jacobian = random_jacobian(task_count, task_count, 12)
    update, _ = update_of(make("trimmed_mean", task_count, 12, trim_number=trim), jacobian)
    np.testing.assert_allclose(update, numpy_trimmed_mean(jacobian, trim), rtol=1e-5, atol=1e-6)


def test_trimmed_mean_of_three_is_the_median_and_leaves_out_absent_tasks():
    # Hand-computed: the columns' medians.
    jacobian = np.array([[1.0, -5.0, 2.0], [3.0, 0.0, -1.0], [2.0, 4.0, 9.0]])
    method = make("trimmed_mean", 3, 3)
    np.testing.assert_allclose(update_of(method, jacobian)[0], [2.0, 0.0, 2.0])
    # Task 1 absent (zero gradient): two tasks left, trimmed by (2 - 1) // 2 = 0: their mean.
    jacobian[1] = 0.0
    np.testing.assert_allclose(update_of(method, jacobian, present=[True, False, True])[0],
                               [1.5, -0.5, 5.5])
    # Every task absent: no update.
    np.testing.assert_allclose(update_of(method, np.zeros((3, 3)), present=[False] * 3)[0], 0.0)


# -------------------------------------------------------------------------------- Krum

def numpy_krum(jacobian, byzantine, selected):
    """Blanchard et al.: score_i = the sum of the squared distances to the n - f - 2 nearest
    others; the mean of the `selected` gradients of lowest scores."""
    count = len(jacobian)
    distances = np.sum((jacobian[:, None] - jacobian[None]) ** 2, axis=2)
    scores = [np.sort(np.delete(distances[i], i))[:count - byzantine - 2].sum()
              for i in range(count)]
    return jacobian[np.argsort(scores)[:selected]].mean(axis=0)


@pytest.mark.parametrize("task_count, byzantine, selected", [(3, 0, 1), (5, 1, 1), (5, 1, 2),
                                                             (6, 2, 3)])
def test_krum_matches_the_scores_of_the_vectors(task_count, byzantine, selected):
    jacobian = random_jacobian(10 + task_count, task_count, 4)
    jacobian[0] *= 6.0  # an outlier
    update, weights = update_of(make("krum", task_count, n_byzantine=byzantine,
                                     n_selected=selected), jacobian)
    np.testing.assert_allclose(update, numpy_krum(jacobian, byzantine, selected), rtol=1e-5,
                               atol=1e-6)
    assert weights[0] == 0.0 and np.isclose(weights.sum(), 1.0)


def test_krum_picks_the_gradient_closest_to_the_others():
    # Hand-computed on a line, points -1, 0, 0.5, 3, f = 0 (two neighbours each): squared
    # distances to the two nearest sum to 3.25, 1.25, 2.5 and 15.25.
    jacobian = np.array([[-1.0, 0.0], [0.0, 0.0], [0.5, 0.0], [3.0, 0.0]])
    _, weights = update_of(make("krum", 4), jacobian)
    np.testing.assert_allclose(weights, [0.0, 1.0, 0.0, 0.0])
    _, weights = update_of(make("krum", 4, n_selected=2), jacobian[[3, 2, 1, 0]])
    np.testing.assert_allclose(weights, [0.0, 0.5, 0.5, 0.0])
    # An absent task is no candidate, and too few tasks for a score give the mean.
    _, weights = update_of(make("krum", 3), jacobian[:3], present=[True, False, True])
    np.testing.assert_allclose(weights, [0.5, 0.0, 0.5])


# ----------------------------------------------------------------------------- GradVac

def numpy_gradvac(jacobian, orders, targets, beta):
    """Wang et al.'s Algorithm 1 on the vectors (the whole model as one group), with the
    given orders; returns (the update, the targets after the step)."""
    targets = targets.copy()
    corrected = []
    for task, order in enumerate(orders):
        vector = jacobian[task].copy()
        for other in order:
            if other == task:
                continue
            norm = np.linalg.norm(jacobian[other])
            cosine = vector @ jacobian[other] / (np.linalg.norm(vector) * norm)
            target = targets[task, other]
            if cosine < target:
                vector = vector + np.linalg.norm(vector) * (
                    target * np.sqrt(1 - cosine ** 2) - cosine * np.sqrt(1 - target ** 2)) / (
                    norm * np.sqrt(1 - target ** 2)) * jacobian[other]
            targets[task, other] = (1 - beta) * target + beta * cosine
        corrected.append(vector)
    return np.sum(corrected, axis=0), targets


@pytest.mark.parametrize("beta", [0.5, 0.1])
def test_gradvac_matches_the_vector_algorithm_over_steps(beta):
    method = make("gradvac", 4, beta=beta)
    targets = np.zeros((4, 4))
    for step in range(4):
        jacobian = random_jacobian(20 + step, 4, 5)
        orders = pcgrad.random_orders(4, method.random_seed(step)).numpy()
        expected, targets = numpy_gradvac(jacobian, orders, targets, beta)
        np.testing.assert_allclose(update_of(method, jacobian, step=step)[0], expected,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(method.targets.numpy(), targets, rtol=1e-5, atol=1e-6)
    assert np.any(targets > 0)  # positive targets, which moved gradients that did not conflict


def test_gradvac_first_step_on_two_tasks_by_hand():
    # Targets 0: the first step is PCGrad's. g1 = (1, 0), g2 = (-1, 1): cos = -1/sqrt 2;
    # p1 = g1 + g2 / 2, p2 = g2 + g1, update (0.5, 1.5); both targets become -0.5/sqrt 2.
    method = make("gradvac", 2)
    update, _ = update_of(method, [[1.0, 0.0], [-1.0, 1.0]])
    np.testing.assert_allclose(update, [0.5, 1.5], rtol=1e-6)
    np.testing.assert_allclose(method.targets.numpy(), [[0, -0.5 / np.sqrt(2)],
                                                        [-0.5 / np.sqrt(2), 0]], rtol=1e-6)
    # Non-conflicting gradients with zero targets: the sum, unchanged.
    np.testing.assert_allclose(update_of(make("gradvac", 2), [[1.0, 0.0], [1.0, 1.0]])[1],
                               [1.0, 1.0], rtol=1e-6)


def test_gradvac_on_two_tasks_permutes_with_them():
    jacobian = random_jacobian(3, 2, 4)
    first, second = make("gradvac", 2), make("gradvac", 2)
    for step in range(3):
        _, weights = update_of(first, jacobian, step=step)
        _, swapped = update_of(second, jacobian[::-1], step=step)
        np.testing.assert_allclose(swapped, weights[::-1], rtol=1e-5)


# ---------------------------------------------------------------------- DB-MTL and MoCo

def numpy_db_mtl(jacobians, losses, beta=0.9, beta_sigma=0.0):
    """Lin et al.'s Algorithm 1 (LibMTL's DB_MTL): the updates of successive steps."""
    average = np.zeros_like(jacobians[0])
    updates = []
    for step, (jacobian, loss) in enumerate(zip(jacobians, losses), start=1):
        log_gradients = jacobian / (np.asarray(loss)[:, None] + 1e-8)
        average = log_gradients + beta / step ** beta_sigma * (average - log_gradients)
        norms = np.linalg.norm(average, axis=1)
        updates.append((norms.max() / (norms + 1e-8)) @ average)
    return updates


def numpy_moco(jacobians, losses, beta=0.5, beta_sigma=0.5, gamma=0.1, gamma_sigma=0.5, rho=0.0):
    """Fernando et al. (LibMTL's MoCo, from the authors' code): the updates of successive steps."""
    tracked = np.zeros_like(jacobians[0])
    weights = np.full(len(tracked), 1 / len(tracked))
    updates = []
    for step, (jacobian, loss) in enumerate(zip(jacobians, losses), start=1):
        normalized = jacobian / (np.linalg.norm(jacobian, axis=1, keepdims=True) + 1e-8)
        normalized = normalized * np.asarray(loss)[:, None]
        tracked = tracked - beta / step ** beta_sigma * (tracked - normalized)
        logits = weights - gamma / step ** gamma_sigma * (
            tracked @ tracked.T + rho * np.eye(len(tracked))) @ weights
        weights = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        updates.append(tracked.T @ weights)
    return updates


def numpy_excess_mtl(jacobians, losses, robust_step_size=0.01):
    """He et al. (LibMTL's ExcessMTL, from the authors' code): the updates of successive
    steps, sum_t w_t g_t with the weights after the step's change."""
    del losses
    squared_sums = np.zeros_like(jacobians[0])
    weights = np.ones(len(squared_sums))
    first = None
    updates = []
    for jacobian in jacobians:
        squared_sums += jacobian ** 2
        risks = np.array([row @ (row / np.sqrt(total + 1e-7))
                          for row, total in zip(jacobian, squared_sums)])
        if first is None:
            first = risks
        else:
            weights = weights * np.exp(robust_step_size * risks / first)
            weights = weights / weights.sum() * len(weights)
        updates.append(weights @ jacobian)
    return updates


REFERENCES = {"db_mtl": numpy_db_mtl, "excess_mtl": numpy_excess_mtl, "moco": numpy_moco}
OPTIONS = {"db_mtl": {"beta": 0.6, "beta_sigma": 0.5}, "excess_mtl": {"robust_step_size": 0.5},
           "moco": {"beta": 0.3, "beta_sigma": 0.2, "gamma": 0.4, "gamma_sigma": 0.1, "rho": 0.2}}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("options", ["defaults", "others"])
def test_stateful_methods_match_the_algorithm_over_steps(name, options):
    options = OPTIONS[name] if options == "others" else {}
    # Losses far apart (0.2 to 5), gradients of norms far apart: the balancing shows.
    jacobians = [random_jacobian(30 + step, 3, 6) * [[0.1], [1.0], [10.0]] for step in range(4)]
    losses = [[0.2, 1.0, 5.0], [0.3, 0.9, 4.0], [0.25, 1.2, 4.5], [0.2, 0.8, 3.0]]
    method = make(name, 3, 6, **options)
    expected = REFERENCES[name](jacobians, losses, **options)
    for step, (jacobian, loss) in enumerate(zip(jacobians, losses)):
        update, weights = update_of(method, jacobian, losses=loss, step=step)
        np.testing.assert_allclose(update, expected[step], rtol=1e-4, atol=1e-6)
        assert weights.shape == (3,) and np.all(weights >= 0)


def test_excess_mtl_leaves_an_absent_task_out_and_records_its_first_risk_when_it_comes():
    jacobian = random_jacobian(8, 3, 5)
    method = make("excess_mtl", 3, 5, robust_step_size=0.5)
    absent = jacobian.copy()
    absent[1] = 0.0
    update, weights = update_of(method, absent, present=[True, False, True])
    np.testing.assert_allclose(update, absent.sum(axis=0), rtol=1e-6)  # weights 1 at first
    assert weights[1] == 0.0 and not method.accumulators.numpy()[1].any()
    # Task 1 comes: its first risk is recorded and its weight kept (1 before rescaling);
    # the others' grow by exp(0.5 r / r0).
    update_of(method, jacobian, step=1)
    squared = absent ** 2 + jacobian ** 2
    risks = np.sum(jacobian ** 2 / np.sqrt(squared + 1e-7), axis=1)
    first = np.sum(absent ** 2 / np.sqrt(absent ** 2 + 1e-7), axis=1)
    grown = np.array([np.exp(0.5 * risks[0] / first[0]), 1.0, np.exp(0.5 * risks[2] / first[2])])
    np.testing.assert_allclose(method.loss_weights.numpy(), 3 * grown / grown.sum(), rtol=1e-5)
    np.testing.assert_allclose(method.first_risks.numpy()[1], risks[1], rtol=1e-5)


@pytest.mark.parametrize("name", ["db_mtl", "moco"])
def test_moving_average_methods_leave_an_absent_task_out_and_keep_its_average(name):
    jacobian = random_jacobian(7, 3, 5)
    method = make(name, 3, 5)
    update_of(method, jacobian, losses=[1.0, 2.0, 3.0])
    state = [variable.numpy() for variable in method.variables]
    absent = jacobian.copy()
    absent[1] = 0.0
    update, weights = update_of(method, absent, losses=[1.0, 0.0, 3.0], step=1,
                                present=[True, False, True])
    assert weights[1] == 0.0
    averages = method.variables[0].numpy()
    np.testing.assert_array_equal(averages[1], state[0][1])  # not moved towards 0
    assert not np.allclose(averages[0], state[0][0])
    np.testing.assert_allclose(update, weights @ averages, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ MoDo and SDMGrad

def numpy_simplex_projection(vector):
    """The Euclidean projection onto the simplex (Chen et al.'s loop, as LibMTL's MoDo)."""
    ordered = np.sort(vector)[::-1]
    threshold = (vector.sum() - 1.0) / len(vector)
    running = 0.0
    for index in range(len(vector) - 1):
        running += ordered[index]
        candidate = (running - 1.0) / (index + 1.0)
        if candidate > ordered[index + 1]:
            threshold = candidate
            break
    return np.maximum(vector - threshold, 0.0)


def numpy_modo(samples, gamma=0.001, rho=0.1):
    """Chen et al.'s MoDo (LibMTL's): lambda stepped on J_1 J_2^T lambda, the update J_3^T
    lambda, over successive steps ([K=3, T, D] each)."""
    weights = np.full(samples[0].shape[1], 1 / samples[0].shape[1])
    updates = []
    for first, second, third in samples:
        weights = numpy_simplex_projection(
            weights - gamma * (first @ (second.T @ weights) + rho * weights))
        updates.append((third.T @ weights, weights))
    return updates


def numpy_sdmgrad(samples, lamda=0.3, iterations=20, learning_rate=5.0, momentum=0.5):
    """Xiao et al.'s SDMGrad (LibMTL's): weights by SGD with momentum (a fresh buffer each
    step) and projection on G = J_2 J_3^T / mean(sqrt(diag))^2, the update from J_1."""
    weights = np.full(samples[0].shape[1], 1 / samples[0].shape[1])
    updates = []
    for zeta, first, second in samples:
        gramian = first @ second.T
        scale = np.mean(np.sqrt(np.maximum(np.diag(gramian), 0.0)))
        gramian = gramian / (scale ** 2 + 1e-8)
        row_means = gramian.mean(axis=1)
        buffer = None
        for _ in range(iterations):
            descent = gramian @ weights + lamda * row_means
            buffer = descent if buffer is None else momentum * buffer + descent
            weights = numpy_simplex_projection(weights - learning_rate * buffer)
        update = (zeta.T @ weights + lamda * zeta.mean(axis=0)) / (1 + lamda)
        updates.append((update, weights))
    return updates


SAMPLED_REFERENCES = {"modo": numpy_modo, "sdmgrad": numpy_sdmgrad}
SAMPLED_OPTIONS = {"modo": {"gamma": 0.05, "rho": 0.3},
                   "sdmgrad": {"lamda": 0.7, "iterations": 5, "learning_rate": 0.5,
                               "momentum": 0.2}}


def sampled_jacobians(seed, steps, task_count=3, dimension=6):
    """[K=3, T, D] per step: three samples around a common gradient, of norms far apart
    per task, the samples different enough that exchanging them changes the answer."""
    rng = np.random.default_rng(seed)
    result = []
    for _ in range(steps):
        mean = rng.normal(size=(task_count, dimension))
        noise = rng.normal(size=(3, task_count, dimension))
        scales = np.array([0.3, 1.0, 3.0])[:task_count, None]
        # As the method receives them (float32), so that float64 is compared with float64.
        result.append(((mean + noise) * scales).astype(np.float32).astype(np.float64))
    return result


@pytest.mark.parametrize("name", sorted(SAMPLED_REFERENCES))
@pytest.mark.parametrize("options", ["defaults", "others"])
def test_sampled_methods_match_the_algorithm_over_steps(name, options):
    """Four steps on hand-made [3, T, D] samples; the weights (state) carry over. Each
    sample's role matters: J_3 (MoDo) and J_1 (SDMGrad) give the update, the other two
    the weights, which this data tells apart."""
    options = SAMPLED_OPTIONS[name] if options == "others" else {}
    samples = sampled_jacobians(60, 4)
    method = make(name, 3, 6, **options)
    assert method.samples == 3
    expected = SAMPLED_REFERENCES[name](samples, **options)
    for step, (sample, (update_expected, weights_expected)) in enumerate(zip(samples, expected)):
        update, weights = update_of(method, sample, losses=[0.5, 1.0, 2.0], step=step)
        np.testing.assert_allclose(weights, weights_expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(update, update_expected, rtol=1e-4, atol=1e-5)
        assert np.all(weights >= 0) and abs(weights.sum() - 1) < 1e-5
    # The weights move away from 1/T (else the state would not be tested).
    assert np.abs(expected[-1][1] - 1 / 3).max() > 0.01
    # Samples in another order give another answer on this data.
    other = SAMPLED_REFERENCES[name]([sample[::-1] for sample in samples], **options)
    assert np.abs(other[-1][0] - expected[-1][0]).max() > 1e-3


@pytest.mark.parametrize("name", sorted(SAMPLED_REFERENCES))
def test_sampled_methods_leave_an_absent_task_out(name):
    """An absent task (zero gradients in every sample) has weight 0 and the others' weights
    and update are those of the method on the present tasks alone (SDMGrad's means and
    scale over them)."""
    samples = sampled_jacobians(61, 2, task_count=3, dimension=5)
    absent = [sample.copy() for sample in samples]
    for sample in absent:
        sample[:, 1] = 0.0
    alone = [sample[:, [0, 2]] for sample in samples]
    method = make(name, 3, 5)
    expected = SAMPLED_REFERENCES[name](alone)
    for step, sample in enumerate(absent):
        update, weights = update_of(method, sample, step=step, present=[True, False, True])
        assert weights[1] == 0.0
        np.testing.assert_allclose(weights[[0, 2]], expected[step][1], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(update, expected[step][0], rtol=1e-4, atol=1e-5)


def test_simplex_projection_matches_the_loop_and_leaves_out_disallowed_entries():
    rng = np.random.default_rng(3)
    for size in (1, 2, 4, 7):
        for _ in range(5):
            vector = rng.normal(scale=2.0, size=size)
            projected = gramian_lib.project_to_simplex(tf.constant(vector),
                                                       tf.ones([size], tf.bool))
            np.testing.assert_allclose(projected.numpy(), numpy_simplex_projection(vector),
                                       atol=1e-12)
    vector = np.array([0.9, 5.0, 0.3, -0.2])
    allowed = tf.constant([True, False, True, True])
    projected = gramian_lib.project_to_simplex(tf.constant(vector), allowed).numpy()
    assert projected[1] == 0.0
    np.testing.assert_allclose(projected[[0, 2, 3]], numpy_simplex_projection(vector[[0, 2, 3]]))


# ------------------------------------------------------------------ properties for all

@pytest.mark.parametrize("name", TASK_GRADIENT_METHODS)
def test_permuting_the_tasks_leaves_the_update(name):
    jacobian = random_jacobian(40, 3, 8)
    losses = np.array([0.5, 1.0, 2.0])
    order = [1, 2, 0]
    plain, permuted = make(name, 3, 8), make(name, 3, 8)
    for step in range(2):
        first, weights = update_of(plain, jacobian, losses=losses, step=step)
        second, permuted_weights = update_of(permuted, jacobian[order], losses=losses[order],
                                             step=step)
        np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-6)
        if weights is not None:
            np.testing.assert_allclose(permuted_weights, weights[order], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["graddrop", "trimmed_mean"])
def test_the_update_changes_continuously_as_a_task_gradient_shrinks(name):
    """GradDrop's purity tends to the other gradients' signs, the trimmed mean's order
    statistics move continuously. (DB-MTL and MoCo rescale each gradient by its norm or
    its loss: a tiny gradient keeps its weight by design; Krum selects, GradVac sets a
    cosine: both jump where an order or a cosine changes.)"""
    jacobian = random_jacobian(50, 3, 20)
    method = make(name, 3, 20)
    limit = jacobian.copy()
    limit[1] = 0.0
    expected, _ = update_of(method, limit, step=2)
    for size in (1e-3, 1e-5, 1e-7):
        shrunk = jacobian.copy()
        shrunk[1] *= size
        update, _ = update_of(method, shrunk, step=2)
        assert np.linalg.norm(update - expected) <= 10 * size * np.linalg.norm(jacobian), size


SINGLE_TASK_DIRECTION_ONLY = {"cagrad", "db_mtl", "fairgrad", "moco", "nash_mtl"}


@pytest.mark.parametrize("name", [name for name in methods.METHODS.names()
                                  if methods.METHODS.get(name).level != "loss"])
def test_one_task_gives_its_gradient(name):
    """With one head, a gradient method's update is that head's gradient. DB-MTL and MoCo
    take moving averages of the gradient of log L (g / L) and of L g / |g|, Nash-MTL and
    FairGrad solve G w = w^(-1/alpha) (the update g / |g|^(2 alpha / (1 + alpha)), of norm 1
    for Nash-MTL) and CAGrad rescales by (1 + c) / (1 + c^2): for those, the gradient's
    direction."""
    gradient = np.array([[0.3, -1.2, 2.0, 0.05]])
    update, _ = update_of(make(name, 1, 4), gradient, losses=[2.5])
    if name in SINGLE_TASK_DIRECTION_ONLY:
        cosine = update @ gradient[0] / (np.linalg.norm(update) * np.linalg.norm(gradient))
        assert cosine > 1 - 1e-6, name
    else:
        np.testing.assert_allclose(update, gradient[0], rtol=2e-4, err_msg=name)


# ------------------------------------------------------------------------ the train step

def _two_head_model():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(3, activation="tanh", name="trunk")(inputs)
    outputs = {"left": keras.layers.Dense(1, name="left")(shared),
               "right": keras.layers.Dense(1, name="right")(shared),
               "third": keras.layers.Dense(1, name="third")(shared)}
    return model_lib.MultiTaskModel(inputs, outputs)


def test_the_step_moves_the_shared_variables_by_the_methods_update_of_the_global_gradients():
    """One SGD step with the trimmed mean (deterministic): the trunk moves by -lr times the
    coordinate-wise median of the three task gradients taken here with a tape, and each
    head by its own loss's gradient."""
    keras.utils.set_random_seed(1)
    model = _two_head_model()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = {name: rng.normal(size=(8, 1)).astype(np.float32) for name in model.task_names}
    trunk = model.get_layer("trunk").trainable_variables
    heads = [v for name in model.task_names for v in model.get_layer(name).trainable_variables]
    with tf.GradientTape(persistent=True) as tape:
        outputs = model(x)
        losses = {name: tf.reduce_mean(tf.square(outputs[name] - y[name])) for name in y}
        total = tf.add_n(list(losses.values()))
    jacobian = np.stack([np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, trunk)])
                         for loss in losses.values()])
    head_gradients = [g.numpy() for g in tape.gradient(total, heads)]
    before = [v.numpy() for v in trunk + heads]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", weighting="trimmed_mean")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    moved = np.concatenate([(b - v.numpy()).ravel() for b, v in zip(before, trunk)]) / 0.1
    np.testing.assert_allclose(moved, np.median(jacobian, axis=0), rtol=1e-4, atol=1e-6)
    for b, v, g in zip(before[len(trunk):], heads, head_gradients):
        np.testing.assert_allclose((b - v.numpy()) / 0.1, g, rtol=1e-4, atol=1e-6)


class _SampleRecorder(base.TaskGradientMethod):
    """Three samples: keeps the [3, T, D] it receives; the update is the third's sum."""

    samples = 3

    def create_variables(self):
        self.seen = self.state_variable("seen", (3, self.task_count, self.dimension))

    def combine(self, gradients, losses, step):
        self.seen.assign(gradients)
        return tf.reduce_sum(gradients[2], axis=0), None


def _sampled_step(strategy, x, y, masks, learning_rate=0.1):
    """One SGD step of `_SampleRecorder` on the batch; (model before, model after, method,
    the step's logs)."""
    keras.utils.set_random_seed(1)
    initial = _two_head_model().get_weights()
    with strategy.scope():
        model = _two_head_model()
        model.set_weights(initial)
        method = _SampleRecorder(model.task_names)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse",
                      weighting=method)
    data = tf.data.Dataset.from_tensors((x, y, masks))
    history = model.fit(data, epochs=1, verbose=0, shuffle=False).history
    reference = _two_head_model()
    reference.set_weights(initial)
    return reference, model, method, history


def _hand_gradients(model, x, y, masks, rows):
    """[T, D]: each task's gradient of its mean squared error over its known labels among
    `rows`, with respect to the trunk, by a tape; and the heads' gradients of the summed
    losses over the whole batch."""
    trunk = model.get_layer("trunk").trainable_variables
    heads = [v for name in model.task_names for v in model.get_layer(name).trainable_variables]
    chosen = np.zeros(len(x), np.float32)
    chosen[rows] = 1.0
    with tf.GradientTape(persistent=True) as tape:
        outputs = model(x)
        losses, whole = [], []
        for name in model.task_names:
            squared = tf.square(outputs[name] - y[name])[:, 0]
            weights = masks[name] * chosen
            losses.append(tf.math.divide_no_nan(tf.reduce_sum(squared * weights),
                                                weights.sum()))
            whole.append(tf.reduce_sum(squared * masks[name]) / masks[name].sum())
        total = tf.add_n(whole)
    jacobian = np.stack([np.concatenate([g.numpy().ravel() for g in tape.gradient(loss, trunk)])
                         for loss in losses])
    return jacobian, [g.numpy() for g in tape.gradient(total, heads)]


@pytest.mark.parametrize("replicas", [1, 2])
def test_the_step_gives_a_sampled_method_each_sub_batchs_task_gradients(replicas):
    """A batch of 8 in three contiguous parts (rows 0-2, 3-5, 6-7: the second across the
    two replicas' halves), each task's loss on a part its mean over the part's known labels
    (`third` has none in the last part: a zero gradient there); the gradients against a
    tape, the same on one replica and on two; the trunk moves by the method's update, each
    head by its whole-batch loss's gradient, and the logged gradient norms are the whole
    batch's."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 4)).astype(np.float32)
    y = {name: rng.normal(size=(8, 1)).astype(np.float32) for name in ("left", "right", "third")}
    masks = {"left": np.array([1, 1, 0, 1, 0, 0, 1, 1], np.float32),
             "right": np.ones(8, np.float32),
             "third": np.array([0, 0, 1, 0, 1, 1, 0, 0], np.float32)}
    strategy = (tf.distribute.get_strategy() if replicas == 1
                else strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]))
    reference, model, method, history = _sampled_step(strategy, x, y, masks)
    parts = [[0, 1, 2], [3, 4, 5], [6, 7]]
    expected = [_hand_gradients(reference, x, y, masks, rows)[0] for rows in parts]
    seen = method.seen.numpy()
    for part, jacobian in enumerate(expected):
        np.testing.assert_allclose(seen[part], jacobian, rtol=1e-4, atol=1e-6, err_msg=part)
    assert not seen[2][2].any() and seen[1][2].any()
    trunk = model.get_layer("trunk").trainable_variables
    before = reference.get_layer("trunk").trainable_variables
    moved = np.concatenate([(b.numpy() - v.numpy()).ravel() for b, v in zip(before, trunk)])
    np.testing.assert_allclose(moved / 0.1, expected[2].sum(axis=0), rtol=1e-4, atol=1e-6)
    whole, head_gradients = _hand_gradients(reference, x, y, masks, list(range(8)))
    # The logged norms are the whole batch's gradients' (from the parts' by their counts).
    for name, row in zip(model.task_names, whole):
        np.testing.assert_allclose(history[f"{name}_gradient_norm"], [np.linalg.norm(row)],
                                   rtol=1e-4, err_msg=name)
    heads = [v for name in model.task_names for v in model.get_layer(name).trainable_variables]
    before = [v for name in model.task_names
              for v in reference.get_layer(name).trainable_variables]
    for b, v, g in zip(before, heads, head_gradients):
        np.testing.assert_allclose((b.numpy() - v.numpy()) / 0.1, g, rtol=1e-4, atol=1e-6)


def test_a_batch_smaller_than_the_samples_gives_each_sample_the_whole_batch():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    y = {name: rng.normal(size=(2, 1)).astype(np.float32) for name in ("left", "right", "third")}
    masks = {name: np.ones(2, np.float32) for name in y}
    reference, _, method, _ = _sampled_step(tf.distribute.get_strategy(), x, y, masks)
    whole, _ = _hand_gradients(reference, x, y, masks, [0, 1])
    for sample in method.seen.numpy():
        np.testing.assert_allclose(sample, whole, rtol=1e-4, atol=1e-6)


def test_rep_grad_is_refused_in_one_sentence():
    model = _two_head_model()
    model.set_representation(model.get_layer("trunk").output)
    with pytest.raises(ValueError, match="rep_grad applies to gradient-level methods; this one "
                                         "combines the task gradients of the shared variables"):
        model.compile(optimizer="sgd", loss="mse", weighting="graddrop", rep_grad=True)
    config = Config(weighting="moco", rep_grad=True)
    with pytest.raises(errors.UserError, match="--weighting=moco combines the task gradients "
                                               "of the shared variables.*choose one of .*krum"):
        preparation.check_parts(config)


def test_a_run_trains_with_a_task_gradient_method(run_flags, tmp_path):
    """The run's path (preparation, build and compile): the method is built on the shape of
    the model's task gradients, trains, and logs its weights and the gradients' norms."""
    workdir = tmp_path / "run"
    status = run_main(run_flags, "--flagfile=experiments/smoke.flags", "--epochs=1",
                              "--synthetic_examples=128", "--validation_size=64",
                              "--batch_size=32", "--weighting=db_mtl", f"--workdir={workdir}")
    assert status == 0
    with open(workdir / "history.csv", encoding="utf-8") as history_file:
        history = next(csv.DictReader(history_file))
    for name in ("fine", "coarse"):
        assert np.isfinite(float(history[f"{name}_weight"])) and float(
            history[f"{name}_weight"]) >= 1.0  # the largest average's norm over its own
        assert float(history[f"{name}_gradient_norm"]) > 0
    assert -1 <= float(history["gradient_cosine_fine_coarse"]) <= 1
