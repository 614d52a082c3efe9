"""UPGrad: the average of the gradients projected onto their dual cone (Quinton & Rey, 2024)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# The active-set method ends in about 2 T iterations; the cap guards against cycling on
# degenerate problems (every iterate is feasible, so a capped result is still usable).
MAX_ITERATIONS_PER_TASK = 8
# Relative to 1 + max |v|: a smaller step is no move, a smaller negative multiplier is 0.
STEP_TOLERANCE = 1e-10
MULTIPLIER_TOLERANCE = 1e-12
# The Gramian's regularisation must keep it positive definite in float64.
SMALLEST_REGULARIZATION = 1e-10


@base.METHODS.register("upgrad")
class UPGrad(base.Method):
    """Unconflicting projection of gradients: each g_i is projected onto the dual cone of
    the gradients {x : <x, g_j> >= 0 for all j}, and the projections are averaged, so the
    update conflicts with no task.

    Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024 (TorchJD's
    `UPGrad`, its defaults). By the paper's Proposition 1 the projection of J^T u onto the
    dual cone is J^T v with v = argmin v^T G v subject to v >= u; UPGrad's weights are the
    sum over i of the v for u = e_i / P, over the P tasks present in the step (all T but
    under task sampling or missing labels: an absent task gets weight 0, and the others
    average as if it were not there). As TorchJD, G is first divided by its trace and
    `reg_eps` * I is added, so that it is positive definite (`normalized`). The weights
    depend on the gradients' directions and relative sizes only: gradients c times larger
    or smaller give the same weights, whatever c > 0. (TorchJD's `norm_eps` treats a
    Gramian of trace below 1e-4 as zero, which made gradients of norm below 1e-2 average
    plainly; here only a zero Gramian is zero: the weights are then the mean's, 1/P.)

    Solver: the T QPs are solved together by a primal active-set method
    (`dual_cone_projections`), exact in finitely many iterations (about 2 T), each a
    batch of T Cholesky solves of T×T: O(T^4) per iteration, nothing next to the task
    gradients for the task counts of multi-task learning. A present task with a zero
    gradient adds no constraint and keeps the weight 1/P of its own (zero) gradient.

    Weights sum to at least 1 (the scale of the mean gradient). Under tf.distribute it
    sees only the global Gramian: exact.
    """

    description = "UPGrad: each gradient projected onto the dual cone of all (Quinton & Rey 2024)"

    level = "gradient"
    HYPERPARAMETERS = {
        "reg_eps": registry.Option(1e-4, "added to the diagonal of the trace-normalised Gramian "
                                   "(TorchJD); it keeps the Gramian positive definite",
                                   minimum=SMALLEST_REGULARIZATION),
    }

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        present = gramian_lib.presence(present, gramian)
        gramian = normalized(gramian, self.options["reg_eps"])
        present = tf.cast(present, tf.float64)
        # An absent task's row is 0: its projection is 0, and its zero gradient adds no
        # constraint to the others'.
        lower_bounds = tf.linalg.diag(present) / tf.maximum(tf.reduce_sum(present), 1.0)
        projections = dual_cone_projections(gramian, lower_bounds)
        return gramian_lib.to_weights(tf.reduce_sum(projections, axis=0))


def normalized(gramian, regularization):
    """The Gramian in float64 divided by its trace (zero if its trace is), plus
    `regularization` * I: positive definite, the same for gradients of any common scale."""
    gramian = gramian_lib.finite(gramian)
    trace = tf.linalg.trace(gramian)
    gramian = tf.where(trace > gramian_lib.TINY, gramian / tf.maximum(trace, gramian_lib.TINY),
                       tf.zeros_like(gramian))
    return gramian + regularization * tf.eye(gramian.shape[0], dtype=tf.float64)


def dual_cone_projections(gramian, lower_bounds):
    """Row k: argmin v^T G v subject to v >= lower_bounds[k] (G positive definite; K rows
    of lower bounds, K problems).

    A primal active-set method, run on the K problems at once: every iterate is feasible;
    each iteration solves the equality problem with the coordinates of the working set
    held at their bounds, then steps towards its solution until a free coordinate hits
    its bound (which joins the set), or, at the solution, releases the bound with the most
    negative multiplier (G v)_i. It ends, exact, when no multiplier is negative.
    """
    task_count = gramian.shape[0]
    infinity = tf.constant(float("inf"), tf.float64)

    def body(iteration, solutions, fixed, done):
        targets = equality_solutions(gramian, lower_bounds, fixed)
        directions = tf.where(done[:, None], tf.zeros_like(targets), targets - solutions)
        scale = 1.0 + tf.reduce_max(tf.abs(solutions), axis=1)
        moving = tf.reduce_max(tf.abs(directions), axis=1) > STEP_TOLERANCE * scale
        # Towards the targets, as far as the free coordinates' bounds allow.
        decreasing = tf.logical_not(fixed) & (directions < 0.0)
        ratios = tf.where(decreasing, (lower_bounds - solutions)
                          / tf.where(decreasing, directions, -tf.ones_like(directions)), infinity)
        step = tf.minimum(tf.reduce_min(ratios, axis=1), 1.0)
        blocking = (tf.one_hot(tf.argmin(ratios, axis=1), task_count, dtype=tf.float64) > 0) & (
            step < 1.0)[:, None]
        moved = tf.where(blocking, lower_bounds, solutions + step[:, None] * directions)
        # At the targets: release the bound whose multiplier is the most negative.
        multipliers = tf.where(fixed, tf.linalg.matmul(solutions, gramian), infinity)
        optimal = tf.reduce_min(multipliers, axis=1) >= -MULTIPLIER_TOLERANCE * scale
        released = tf.one_hot(tf.argmin(multipliers, axis=1), task_count, dtype=tf.float64) > 0
        solutions = tf.where(moving[:, None], moved, solutions)
        fixed = tf.where(moving[:, None], fixed | blocking,
                         tf.where(optimal[:, None], fixed, fixed & tf.logical_not(released)))
        return iteration + 1, solutions, fixed, done | (tf.logical_not(moving) & optimal)

    def condition(iteration, solutions, fixed, done):
        del solutions, fixed
        return (iteration < MAX_ITERATIONS_PER_TASK * task_count + 8) & tf.logical_not(
            tf.reduce_all(done))

    all_fixed = tf.ones_like(lower_bounds, dtype=tf.bool)
    _, solutions, _, _ = tf.while_loop(
        condition, body,
        [tf.constant(0), lower_bounds, all_fixed, tf.zeros(tf.shape(lower_bounds)[:1], tf.bool)])
    return solutions


def equality_solutions(gramian, lower_bounds, fixed):
    """Row k: argmin v^T G v with v_i = lower_bounds[k, i] where fixed[k, i] (batched).

    The free block G_FF v_F = -G_FS u_S, written as one symmetric positive definite
    system per problem (identity rows for the fixed coordinates).
    """
    free = tf.logical_not(fixed)
    both_free = free[:, :, None] & free[:, None, :]
    systems = (tf.where(both_free, gramian[None], tf.zeros_like(gramian[None]))
               + tf.linalg.diag(tf.cast(fixed, tf.float64)))
    held = tf.where(fixed, lower_bounds, tf.zeros_like(lower_bounds))
    right_sides = tf.where(fixed, lower_bounds, -tf.linalg.matmul(held, gramian))
    return tf.linalg.cholesky_solve(tf.linalg.cholesky(systems), right_sides[..., None])[..., 0]
