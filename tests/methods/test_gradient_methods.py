"""The gradient-level methods against values computed independently, in numpy.

Each method turns a Gramian G = J J^T (rows of J: task gradients) into task weights w;
the update is w @ J. Expected values come from the papers' definitions applied to the
vectors themselves (projections, SVDs, grids, active-set enumeration), never from the
methods' code. Robustness (degenerate Gramians, XLA) and convergence on a toy problem:
`test_gradient_methods_behaviour.py`.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import methods
from mtl_keras.methods import pcgrad


def make(name, task_count, **options):
    return methods.make(name, [f"task{index}" for index in range(task_count)], options=options)


def weights_of(method, jacobian, losses=None, step=0, present=None):
    """The method's weights for the gradients in the rows of `jacobian` (float64 numpy);
    `present`: the tasks present in the step (default: all)."""
    jacobian = np.asarray(jacobian, np.float64)
    gramian = tf.constant(jacobian @ jacobian.T, tf.float32)
    losses = tf.ones([len(jacobian)]) if losses is None else tf.constant(losses, tf.float32)
    present = tf.ones([len(jacobian)], tf.bool) if present is None else tf.constant(present)
    result = tf.function(method.task_weights)(gramian, losses, tf.constant(step, tf.int64),
                                              present=present)
    return result.numpy().astype(np.float64)


def random_jacobian(seed, task_count, dimension):
    return np.random.default_rng(seed).normal(size=(task_count, dimension))


# ----------------------------------------------------------------------------- PCGrad

def numpy_pcgrad(jacobian, orders):
    """Yu et al.'s Algorithm 1 on the vectors, with the given orders."""
    projected = []
    for task, order in enumerate(orders):
        vector = jacobian[task].copy()
        for other in order:
            inner = vector @ jacobian[other]
            if other != task and inner < 0:
                vector -= inner / (jacobian[other] @ jacobian[other]) * jacobian[other]
        projected.append(vector)
    return np.sum(projected, axis=0)


def test_pcgrad_on_two_conflicting_gradients():
    # g1.g2 = -1: p1 = g1 + g2 / 2, p2 = g2 + g1, their sum 2 g1 + 1.5 g2.
    np.testing.assert_allclose(weights_of(make("pcgrad", 2), [[1.0, 0.0], [-1.0, 1.0]]),
                               [2.0, 1.5], rtol=1e-6)
    np.testing.assert_allclose(weights_of(make("pcgrad", 2), [[1.0, 0.0], [1.0, 1.0]]),
                               [1.0, 1.0], rtol=1e-6)


def test_pcgrad_matches_the_vector_algorithm_in_the_steps_random_order():
    method = make("pcgrad", 4)
    jacobian = random_jacobian(1, 4, 3)  # four gradients in R^3: several conflicts
    for step in (0, 1, 7):
        orders = pcgrad.random_orders(4, method.random_seed(step)).numpy()
        expected = numpy_pcgrad(jacobian, orders)
        np.testing.assert_allclose(weights_of(method, jacobian, step=step) @ jacobian,
                                   expected, rtol=1e-4, atol=1e-5)
    first, second = (pcgrad.random_orders(4, method.random_seed(step)).numpy() for step in (3, 4))
    assert not np.array_equal(first, second)


# ------------------------------------------------------------------------------- MGDA

def numpy_min_norm_point(jacobian):
    """Min-norm point of the convex hull, by enumerating the supports (KKT systems)."""
    gramian = jacobian @ jacobian.T
    best = None
    for size in range(1, len(jacobian) + 1):
        for support in map(list, itertools.combinations(range(len(jacobian)), size)):
            system = np.block([[gramian[np.ix_(support, support)], np.ones((size, 1))],
                               [np.ones((1, size)), np.zeros((1, 1))]])
            solution = np.linalg.lstsq(system, np.r_[np.zeros(size), 1.0], rcond=None)[0]
            if np.all(solution[:size] >= -1e-12):
                point = solution[:size] @ jacobian[support]
                if best is None or point @ point < best @ best:
                    best = point
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mgda_two_tasks_closed_form(seed):
    first, second = random_jacobian(seed, 2, 4)
    share = np.clip((second - first) @ second / ((first - second) @ (first - second)), 0, 1)
    np.testing.assert_allclose(weights_of(make("mgda", 2), [first, second]),
                               [share, 1 - share], atol=1e-5)


def test_mgda_three_tasks_minimum_on_an_edge():
    # The hull of (1, 1) and (-1, 1) is nearest 0 at (0, 1); (0, 3) lies beyond it.
    weights = weights_of(make("mgda", 3), [[1.0, 1.0], [-1.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(weights, [0.5, 0.5, 0.0], atol=1e-6)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_mgda_matches_the_enumerated_min_norm_point(seed):
    jacobian = random_jacobian(seed, 4, 5)
    jacobian[1] = -jacobian[0] + 0.01 * jacobian[1]  # nearly opposite: ill-conditioned
    weights = weights_of(make("mgda", 4), jacobian)
    assert weights.min() >= 0 and weights.sum() == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(weights @ jacobian, numpy_min_norm_point(jacobian), atol=1e-4)


def test_mgda_l2_normalisation_is_the_min_norm_point_of_unit_gradients():
    jacobian = np.array([[3.0, 0.0], [-1.0, 1.0]])
    units = jacobian / np.linalg.norm(jacobian, axis=1, keepdims=True)
    weights = weights_of(make("mgda", 2, normalization=1), jacobian)
    np.testing.assert_allclose(weights @ jacobian, numpy_min_norm_point(units), atol=1e-5)


# ----------------------------------------------------------------------------- CAGrad

def test_cagrad_two_tasks_matches_a_grid_over_the_dual():
    jacobian = np.array([[1.0, 0.2, 0.0], [-0.6, 1.0, 0.3]])
    c = 0.4
    average = jacobian.mean(axis=0)
    radius = c * np.linalg.norm(average)
    shares = np.linspace(0, 1, 1_000_001)[:, None]
    combined = shares * jacobian[0] + (1 - shares) * jacobian[1]
    objective = combined @ average + radius * np.linalg.norm(combined, axis=1)
    best = combined[np.argmin(objective)]
    expected = (average + radius / np.linalg.norm(best) * best) / (1 + c * c)
    np.testing.assert_allclose(weights_of(make("cagrad", 2), jacobian) @ jacobian, expected,
                               atol=1e-5)


def test_cagrad_maximises_the_worst_improvement_in_the_ball():
    # The primal problem in R^2: max over |d - g0| <= c |g0| of min_i <g_i, d>; with a
    # common descent direction the maximum is on the sphere, searched by angle.
    jacobian = np.array([[1.0, 0.1], [0.2, 1.0], [-0.3, 0.8]])
    c = 0.4
    average = jacobian.mean(axis=0)
    angles = np.linspace(0, 2 * np.pi, 2_000_001)
    candidates = average + c * np.linalg.norm(average) * np.stack(
        [np.cos(angles), np.sin(angles)], axis=1)
    expected = candidates[np.argmax((candidates @ jacobian.T).min(axis=1))] / (1 + c * c)
    np.testing.assert_allclose(weights_of(make("cagrad", 3), jacobian) @ jacobian, expected,
                               atol=1e-4)


def test_cagrad_without_radius_is_the_mean_gradient():
    jacobian = random_jacobian(6, 3, 4)
    np.testing.assert_allclose(weights_of(make("cagrad", 3, c=0.0), jacobian), [1 / 3] * 3,
                               atol=1e-6)


# ------------------------------------------------------------------------------- IMTL

@pytest.mark.parametrize("task_count,dimension", [(2, 3), (3, 5), (4, 6)])
def test_imtl_g_update_has_equal_projections_on_the_unit_gradients(task_count, dimension):
    jacobian = random_jacobian(task_count, task_count, dimension)
    weights = weights_of(make("imtl", task_count), jacobian)
    units = jacobian / np.linalg.norm(jacobian, axis=1, keepdims=True)
    projections = units @ (weights @ jacobian)
    assert weights.sum() == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(projections, projections[0], rtol=1e-4)


def test_imtl_g_leaves_out_an_absent_task_and_stops_between_opposite_gradients():
    jacobian = random_jacobian(7, 3, 4)
    jacobian[1] = 0.0
    weights = weights_of(make("imtl", 3), jacobian, present=[True, False, True])
    update = weights @ jacobian
    assert weights[1] == 0 and weights.sum() == pytest.approx(1, abs=1e-5)
    assert (jacobian[0] @ update / np.linalg.norm(jacobian[0])) == pytest.approx(
        jacobian[2] @ update / np.linalg.norm(jacobian[2]), rel=1e-4)
    opposite = np.array([[1.0, 2.0], [-2.0, -4.0]])
    np.testing.assert_allclose(weights_of(make("imtl", 2), opposite) @ opposite, 0, atol=1e-5)


def test_imtl_l_scales_the_losses_towards_one():
    method = make("imtl", 2)
    losses = tf.constant([4.0, 0.5])
    method.log_scales.assign([0.3, -0.2])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(method.transform(losses))
    scales = np.exp([0.3, -0.2])
    np.testing.assert_allclose(tape.gradient(total, method.log_scales), scales * [4, 0.5] - 1,
                               rtol=1e-5)
    assert make("imtl", 2, loss_scales=0).transform(losses) is losses


def test_imtl_l_leaves_an_absent_tasks_loss_scale_where_it_is():
    # An absent task's loss is 0: e^s 0 - s would push its s up by the learning rate every
    # step it is absent. Its transformed loss must not depend on s.
    method = make("imtl", 2)
    method.log_scales.assign([0.3, -0.2])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(method.transform(tf.constant([4.0, 0.0]),
                                               present=tf.constant([True, False])))
    np.testing.assert_allclose(tape.gradient(total, method.log_scales),
                               [np.exp(0.3) * 4 - 1, 0.0], rtol=1e-5)


# --------------------------------------------------------------------------- Nash-MTL

def numpy_bargaining_weights(gramian):
    """alpha > 0 with G alpha = 1 / alpha: Newton's method on a^T G a / 2 - sum log a in the
    gradients' own scale, a backtracking line search keeping a > 0; checked by its residual."""
    gramian = np.asarray(gramian, np.float64)

    def objective(alpha):
        return alpha @ gramian @ alpha / 2 - np.log(alpha).sum()

    alpha = 1 / np.sqrt(np.diag(gramian))
    for _ in range(500):
        gradient = gramian @ alpha - 1 / alpha
        step = -np.linalg.solve(gramian + np.diag(alpha ** -2.0), gradient)
        size = 1.0
        while size > 1e-12 and (np.any(alpha + size * step <= 0) or objective(
                alpha + size * step) > objective(alpha) + 0.25 * size * gradient @ step):
            size /= 2
        alpha = alpha + size * step
        if np.abs(alpha * (gramian @ alpha) - 1).max() < 1e-14:
            break
    assert np.abs(alpha * (gramian @ alpha) - 1).max() < 1e-10
    return alpha


def float32_gramian(jacobian):
    """The Gramian as the method receives it (float32), back in float64."""
    return (jacobian @ jacobian.T).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("seed", [8, 9])
def test_nash_mtl_solves_the_bargaining_equation(seed):
    jacobian = random_jacobian(seed, 3, 5)
    weights = weights_of(make("nash_mtl", 3, max_norm=0), jacobian)
    assert np.all(weights > 0)
    # Of the Gramian itself: the paper's code normalises G for its solver only.
    gramian = float32_gramian(jacobian)
    np.testing.assert_allclose(gramian @ weights, 1 / weights, rtol=1e-4)
    np.testing.assert_allclose(weights, numpy_bargaining_weights(gramian), rtol=1e-4)


def test_nash_mtl_clips_the_update_norm():
    # |d|^2 = alpha^T G alpha = T whatever the gradients' scale: sqrt(3) here, at either size.
    jacobian = random_jacobian(10, 3, 5)
    for scale in (10.0, 0.01):
        free = weights_of(make("nash_mtl", 3, max_norm=0), scale * jacobian)
        assert np.linalg.norm(free @ (scale * jacobian)) == pytest.approx(np.sqrt(3), rel=1e-5)
        clipped = weights_of(make("nash_mtl", 3), scale * jacobian)
        assert np.linalg.norm(clipped @ (scale * jacobian)) == pytest.approx(1, rel=1e-5)
        np.testing.assert_allclose(clipped * np.sqrt(3), free, rtol=1e-5)
        np.testing.assert_allclose(weights_of(make("nash_mtl", 3, max_norm=2), scale * jacobian),
                                   free, rtol=1e-5)


# ------------------------------------------------------------------------ Aligned-MTL

@pytest.mark.parametrize("task_count,dimension", [(2, 3), (3, 4), (3, 2)])
def test_aligned_mtl_matches_the_aligned_svd(task_count, dimension):
    jacobian = random_jacobian(11 + task_count, task_count, dimension)
    left, singular, right = np.linalg.svd(jacobian, full_matrices=False)
    kept = singular > singular.max() * 1e-3
    aligned = singular[kept].min() * left[:, kept] @ right[kept]
    np.testing.assert_allclose(weights_of(make("aligned_mtl", task_count), jacobian) @ jacobian,
                               aligned.sum(axis=0), atol=1e-4)


# ----------------------------------------------------------------------------- UPGrad

def numpy_dual_cone_weights(gramian, lower_bound):
    """argmin v^T G v subject to v >= u, by enumerating the free sets (KKT conditions)."""
    task_count = len(gramian)
    for size in range(task_count + 1):
        for free in map(list, itertools.combinations(range(task_count), size)):
            held = [index for index in range(task_count) if index not in free]
            candidate = lower_bound.copy()
            if free:
                candidate[free] = -np.linalg.solve(gramian[np.ix_(free, free)],
                                                   gramian[np.ix_(free, held)] @ lower_bound[held])
            if np.all(candidate >= lower_bound - 1e-12) and np.all((gramian @ candidate)[held]
                                                                   >= -1e-12):
                return candidate
    raise AssertionError("no KKT point")


def _conflicting(seed, task_count, dimension):
    """A random Jacobian whose second row nearly opposes its first, and its Gramian as
    TorchJD regularises it (divided by its trace, plus 1e-4 I)."""
    jacobian = random_jacobian(seed, task_count, dimension)
    jacobian[1] = -jacobian[0] + 0.05 * jacobian[1]
    gramian = jacobian @ jacobian.T
    return jacobian, gramian / np.trace(gramian) + 1e-4 * np.eye(task_count)


@pytest.mark.parametrize("seed,task_count,dimension", [(12, 3, 4), (13, 4, 3), (14, 5, 6)])
def test_upgrad_matches_the_enumerated_projections(seed, task_count, dimension):
    jacobian, regularized = _conflicting(seed, task_count, dimension)
    expected = sum(numpy_dual_cone_weights(regularized, row / task_count)
                   for row in np.eye(task_count))
    np.testing.assert_allclose(weights_of(make("upgrad", task_count), jacobian), expected,
                               rtol=1e-4)


def test_upgrad_update_conflicts_with_no_task():
    jacobian = random_jacobian(15, 4, 3)
    update = weights_of(make("upgrad", 4, reg_eps=1e-10), jacobian) @ jacobian
    assert np.all(jacobian @ update >= -1e-5 * np.linalg.norm(jacobian) ** 2)
    conflicting = jacobian @ jacobian.mean(axis=0)
    assert conflicting.min() < 0  # the plain mean would conflict


# ---------------------------------------------------------------------------- DualProj

@pytest.mark.parametrize("seed,task_count,dimension", [(17, 3, 4), (18, 4, 3), (19, 5, 6)])
def test_dualproj_is_the_mean_projected_onto_the_dual_cone(seed, task_count, dimension):
    jacobian, regularized = _conflicting(seed, task_count, dimension)
    expected = numpy_dual_cone_weights(regularized, np.full(task_count, 1 / task_count))
    weights = weights_of(make("dualproj", task_count), jacobian)
    np.testing.assert_allclose(weights, expected, rtol=1e-4)
    assert np.all(weights >= 1 / task_count - 1e-6)
    update = weights_of(make("dualproj", task_count, reg_eps=1e-10), jacobian) @ jacobian
    assert np.all(jacobian @ update >= -1e-5 * np.linalg.norm(jacobian) ** 2)


def test_dualproj_keeps_the_mean_when_it_conflicts_with_no_task():
    jacobian = np.array([[1.0, 0.2], [0.3, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(weights_of(make("dualproj", 3), jacobian), [1 / 3] * 3,
                               rtol=1e-6)


# ------------------------------------------------------------------------------ ConFIG

def numpy_config_update(jacobian):
    """Liu et al.'s equation 2 on the vectors, as TorchJD: pinv of the unit gradients
    applied to ones, normalised, times the sum of the gradients' projections on it."""
    units = jacobian / np.linalg.norm(jacobian, axis=1, keepdims=True)
    best = np.linalg.pinv(units) @ np.ones(len(jacobian))
    unit = best / np.linalg.norm(best)
    return np.sum(jacobian @ unit) * unit


@pytest.mark.parametrize("seed,task_count,dimension", [(20, 2, 3), (21, 3, 5), (22, 4, 3)])
def test_config_matches_the_pseudo_inverse_of_the_unit_gradients(seed, task_count, dimension):
    jacobian = random_jacobian(seed, task_count, dimension) * [[1.0], [5.0], [0.2], [2.0]][
        :task_count]
    update = weights_of(make("config", task_count), jacobian) @ jacobian
    np.testing.assert_allclose(update, numpy_config_update(jacobian), rtol=1e-4, atol=1e-6)


def test_config_two_tasks_by_hand():
    # u1 = (1, 0), u2 = (0, 1) (g2 = (0, 3)): pinv(U) 1 = (1, 1), e = (1, 1) / sqrt 2; the
    # projections sum to (1 + 3) / sqrt 2, so the update is 2 (1, 1): w = (2, 2/3).
    jacobian = np.array([[1.0, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(weights_of(make("config", 2), jacobian), [2.0, 2.0 / 3.0],
                               rtol=1e-6)
    # Conflicting: the update has equal projections on the unit gradients, both positive.
    jacobian = np.array([[1.0, 0.0], [-0.8, 0.6]])
    update = weights_of(make("config", 2), jacobian) @ jacobian
    units = jacobian / np.linalg.norm(jacobian, axis=1, keepdims=True)
    assert (units @ update)[0] == pytest.approx((units @ update)[1], rel=1e-5)
    assert np.all(units @ update > 0)


# ---------------------------------------------------------------------------- FairGrad

def numpy_fair_weights(gramian, alpha):
    """w > 0 with G w = w^(-1/alpha): Newton's method on the convex w^T G w / 2 - sum_i
    F(w_i), F' = w^(-1/alpha), with a backtracking line search keeping w > 0; checked by the
    equation's residual."""
    gramian = np.asarray(gramian, np.float64)
    power = 1 - 1 / alpha

    def objective(weights):
        concave = np.log(weights) if power == 0 else weights ** power / power
        return weights @ gramian @ weights / 2 - concave.sum()

    weights = np.ones(len(gramian))
    for _ in range(500):
        gradient = gramian @ weights - weights ** (-1 / alpha)
        step = -np.linalg.solve(gramian + np.diag(weights ** (-1 / alpha - 1) / alpha), gradient)
        size = 1.0
        rounding = 1e-14 * abs(objective(weights))  # below it, decreases are noise
        while size > 1e-12 and (np.any(weights + size * step <= 0) or objective(
                weights + size * step) > objective(weights) + 0.25 * size * gradient @ step
                + rounding):
            size /= 2
        weights = weights + size * step
        if np.abs(gramian @ weights * weights ** (1 / alpha) - 1).max() < 1e-13:
            break
    assert np.abs(gramian @ weights * weights ** (1 / alpha) - 1).max() < 1e-10
    return weights


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 5.0])
def test_fairgrad_solves_the_alpha_fair_equation(alpha):
    jacobian = random_jacobian(23, 3, 5)
    jacobian[1] = -0.5 * jacobian[0] + 0.4 * jacobian[1]  # a conflict
    weights = weights_of(make("fairgrad", 3, alpha=alpha), jacobian)
    gramian = float32_gramian(jacobian)
    regularized = gramian + 1e-6 * np.diag(np.diag(gramian))  # as documented
    np.testing.assert_allclose(weights, numpy_fair_weights(regularized, alpha), rtol=1e-5)
    # The regularisation moves the solution of G w = w^(-1/alpha) a little only.
    np.testing.assert_allclose(weights, numpy_fair_weights(gramian, alpha), rtol=1e-3)


def test_fairgrad_by_hand_and_against_nash_mtl():
    # Orthogonal gradients of norms 2 and 1/2: G_ii w_i = w_i^(-1/alpha), so
    # w_i = |g_i|^(-2 alpha / (alpha + 1)): with alpha = 2, 4^(-2/3) and 4^(2/3).
    jacobian = np.array([[2.0, 0.0], [0.0, 0.5]])
    np.testing.assert_allclose(weights_of(make("fairgrad", 2, alpha=2), jacobian),
                               [4 ** (-2 / 3), 4 ** (2 / 3)], rtol=1e-5)
    # alpha = 1 is Nash-MTL's equation G w = 1 / w (Nash-MTL unclipped).
    jacobian = random_jacobian(24, 3, 4)
    np.testing.assert_allclose(weights_of(make("fairgrad", 3), jacobian),
                               numpy_bargaining_weights(float32_gramian(jacobian)), rtol=1e-4)


# --------------------------------------------------------------------------- GradNorm

def auxiliary_gradient(method, jacobian, losses, present=None):
    gramian = tf.constant(jacobian @ jacobian.T, tf.float32)
    present = np.ones(len(jacobian), bool) if present is None else np.array(present)
    with tf.GradientTape() as tape:
        loss = method.auxiliary_loss(gramian, tf.constant(losses, tf.float32), 0,
                                     present=tf.constant(present))
    return tape.gradient(loss, method.logits).numpy()


def test_gradnorm_raises_the_weight_of_the_task_that_trains_slower():
    method = make("gradnorm", 2)
    jacobian = np.array([[1.0, 0.0], [0.0, 1.0]])  # equal gradient norms
    auxiliary_gradient(method, jacobian, [2.0, 2.0])  # the first step: initial losses
    gradient = auxiliary_gradient(method, jacobian, [1.8, 1.0])  # task 0 lags behind
    # By hand: r = (0.9, 0.5) / 0.7, target_i = 1 * r_i^1.5; w_i |g_i| = 1 at theta = 0,
    # so L_grad's slopes are -1 (task 0, below target) and +1 (task 1); d w_i / d theta_j
    # = 2 s_i (delta_ij - s_j) = +-0.5.
    np.testing.assert_allclose(gradient, [-1.0, 1.0], rtol=1e-5)
    np.testing.assert_allclose(method.initial_losses.numpy(), [2.0, 2.0])
    method.logits.assign_sub(0.1 * gradient)
    weights = weights_of(method, jacobian)
    assert weights[0] > 1 > weights[1] and weights.sum() == pytest.approx(2)


def test_gradnorm_records_an_absent_tasks_initial_loss_when_it_appears():
    method = make("gradnorm", 2)
    auxiliary_gradient(method, np.array([[1.0, 0.0], [0.0, 0.0]]), [3.0, 0.0], [True, False])
    auxiliary_gradient(method, np.array([[1.0, 0.0], [0.0, 2.0]]), [2.0, 5.0])
    np.testing.assert_allclose(method.initial_losses.numpy(), [3.0, 5.0])


# ---------------------------------------------------------------------------- options

@pytest.mark.parametrize("name,options", [
    ("mgda", {"normalization": 4}), ("cagrad", {"rescale": 3}), ("cagrad", {"c": -1}),
    ("imtl", {"loss_scales": 2}), ("nash_mtl", {"max_norm": -1}), ("upgrad", {"reg_eps": 0}),
    ("gradnorm", {"alpha": -1}), ("pcgrad", {"c": 1}), ("upgrad", {"norm_eps": 1e-4}),
    ("dualproj", {"reg_eps": 0}), ("fairgrad", {"alpha": 0}), ("config", {"c": 1})])
def test_bad_options_are_user_errors(name, options):
    with pytest.raises(errors.UserError):
        make(name, 2, **options)


@pytest.mark.parametrize("name", ["upgrad", "dualproj"])
@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_dual_cone_methods_are_invariant_to_the_gradients_scale(name, scale):
    # Gradients c times larger or smaller give the same weights: the Gramian is normalised
    # by its trace, and a small Gramian is not a zero one (at c = 1e-6 its trace is about
    # 1e-11, far below any absolute threshold; the plain mean would be (1/3, 1/3, 1/3)).
    jacobian = random_jacobian(16, 3, 4)
    jacobian[1] = -jacobian[0] + 0.3 * jacobian[1]  # conflicting: the projections matter
    expected = weights_of(make(name, 3), jacobian)
    assert not np.allclose(expected, 1 / 3, atol=1e-2)
    np.testing.assert_allclose(weights_of(make(name, 3), scale * jacobian), expected, rtol=1e-4)
