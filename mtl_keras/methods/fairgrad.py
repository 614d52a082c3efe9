"""FairGrad: alpha-fair allocation of the update among the tasks (Ban & Ji, 2024)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Added to each squared norm on the Gramian's diagonal (relatively, as Nash-MTL's): without
# it the equation has no solution when a non-negative combination of the gradients is zero.
REGULARIZATION = 1e-6
NEWTON_ITERATIONS = 80
BACKTRACKING_STEPS = 40
# Stop when every task's equation holds to this relative error.
TOLERANCE = 1e-12


@base.METHODS.register("fairgrad")
class FairGrad(base.Method):
    """The update whose weights w > 0 solve G w = w^(-1/alpha) (elementwise): each task's
    directional derivative <g_i, d> is w_i^(-1/alpha), the alpha-fair allocation of the
    update among the tasks' rates of improvement.

    Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024. alpha = 1 is
    proportional fairness, Nash-MTL's equation G w = 1/w; alpha -> infinity tends to the
    max-min fair update (MGDA-like), alpha -> 0 to the mean's. The paper's code (and
    LibMTL's `FairGrad`, alpha 1 by default, the default here) solves the equation by
    scipy's least squares, without clipping the update.

    Solver: w is the unique minimiser of the strictly convex w^T G w / 2 - sum_i f(w_i)
    over w > 0, with f'(w) = w^(-1/alpha) (f = log for alpha = 1), found by Newton's
    method with a backtracking line search that keeps w > 0, from w_i = G_ii^(-alpha /
    (alpha + 1)) (the solution for orthogonal gradients); each Newton system is scaled by
    its diagonal, so that gradients of very different norms keep their precision. Each
    squared norm on the diagonal is raised by REGULARIZATION of itself (the problem is
    unbounded when gradients cancel, as Nash-MTL's). A task absent from the step gets
    weight 0 and the others solve the equation among themselves; so does a present task
    with a zero gradient, for which the equation has no solution (its weight grows as
    |g_i|^(-2 alpha / (alpha + 1)) as its gradient shrinks: its part of the update,
    w_i g_i, tends to 0 for alpha < 1, keeps its size for alpha = 1 and grows for
    alpha > 1). The update scales with the gradients as c^((1 - alpha) / (1 + alpha)).

    Cost: at most NEWTON_ITERATIONS Cholesky solves of T×T. Under tf.distribute it sees
    only the global Gramian: exact.
    """

    description = "FairGrad: the alpha-fair update G w = w^(-1/alpha) (Ban & Ji 2024)"

    level = "gradient"
    HYPERPARAMETERS = {
        "alpha": registry.Option(1.0, "fairness: 1 proportional (Nash-MTL's), larger towards "
                                 "max-min (LibMTL's FairGrad_alpha)", minimum=0.01, maximum=100),
    }

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian = gramian_lib.finite(gramian)
        present = gramian_lib.presence(present, gramian)
        return gramian_lib.to_weights(fair_weights(gramian, present, self.options["alpha"]))


def fair_weights(gramian, present, alpha):
    """w > 0 with G w = w^(-1/alpha) on the present tasks with a nonzero gradient, 0
    elsewhere (float64 [T]); `alpha` a Python float."""
    squared_norms = tf.linalg.diag_part(gramian)
    solved = present & (squared_norms > 0.0)
    identity = tf.eye(gramian.shape[0], dtype=tf.float64)
    # A task left out becomes an independent one-dimensional problem, then gets weight 0.
    matrix = tf.where(solved[:, None] & solved[None, :], gramian, identity)
    matrix += REGULARIZATION * tf.linalg.diag(tf.linalg.diag_part(matrix))
    power = 1.0 - 1.0 / alpha

    def objective(weights):
        if abs(power) < 1e-12:
            concave = tf.math.log(weights)
        else:
            concave = tf.pow(weights, power) / power
        return 0.5 * tf.tensordot(weights, tf.linalg.matvec(matrix, weights), 1) - tf.reduce_sum(
            concave)

    def condition(iteration, weights, converged):
        del weights
        return (iteration < NEWTON_ITERATIONS) & tf.logical_not(converged)

    def body(iteration, weights, converged):
        del converged
        gradient = tf.linalg.matvec(matrix, weights) - tf.pow(weights, -1.0 / alpha)
        hessian = matrix + tf.linalg.diag(tf.pow(weights, -1.0 / alpha - 1.0) / alpha)
        scale = tf.math.rsqrt(tf.linalg.diag_part(hessian))
        scaled = hessian * scale[:, None] * scale[None, :]
        direction = -scale * tf.linalg.cholesky_solve(tf.linalg.cholesky(scaled),
                                                      (scale * gradient)[:, None])[:, 0]
        slope = tf.tensordot(gradient, direction, 1)
        # The longest step that keeps w > 0 (with a margin), then halved until it descends.
        shrinking = direction < 0.0
        room = tf.reduce_min(tf.where(shrinking, -weights / tf.where(shrinking, direction, -1.0),
                                      float("inf")))
        start = tf.minimum(tf.constant(1.0, tf.float64), 0.99 * room)
        value = objective(weights)

        # Near the solution the decrease is below the objective's rounding: full steps.
        searching = -slope > 1e-12 * (1.0 + tf.abs(value))

        def too_long(size, halvings):
            return searching & (halvings < BACKTRACKING_STEPS) & (
                objective(weights + size * direction) > value + 0.25 * size * slope)

        size, _ = tf.while_loop(too_long, lambda size, halvings: (0.5 * size, halvings + 1),
                                [start, tf.constant(0)])
        weights = tf.maximum(weights + size * direction, 1e-300)
        residual = tf.linalg.matvec(matrix, weights) * tf.pow(weights, 1.0 / alpha) - 1.0
        return iteration + 1, weights, tf.reduce_max(tf.abs(residual)) < TOLERANCE

    start = tf.pow(tf.linalg.diag_part(matrix), -alpha / (alpha + 1.0))
    _, weights, _ = tf.while_loop(condition, body, [tf.constant(0), start, tf.constant(False)])
    return tf.where(solved, weights, tf.zeros_like(weights))
