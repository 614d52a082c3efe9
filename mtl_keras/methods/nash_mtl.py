"""Nash-MTL: the Nash bargaining solution among the tasks (Navon et al., 2022)."""

import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Added to the normalised Gramian (Frobenius norm 1): the bargaining problem has no
# solution when some non-negative combination of the gradients is zero (exactly opposite
# gradients); with it, the weights are large but finite there and the update tends to 0.
REGULARIZATION = 1e-6
NEWTON_ITERATIONS = 60
# Newton's decrement squared below which the minimiser is reached (float64).
NEWTON_TOLERANCE = 1e-20


@base.METHODS.register("nash_mtl")
class NashMTL(base.Method):
    """The update whose weights alpha > 0 solve G alpha = 1 / alpha (elementwise): each
    task's directional derivative <g_i, d> equals 1 / alpha_i, the Nash bargaining solution.

    Navon et al., "Multi-Task Learning as a Bargaining Game", ICML 2022. alpha is the unique
    minimiser of the strictly convex f(a) = a^T G a / 2 - sum_i log a_i over a > 0, whose
    gradient is G a - 1/a. It is found by Newton's method, damped as for self-concordant
    functions (step 1 / (1 + decrement)) so that every iterate stays positive; the Hessian
    G + diag(1/a^2) is positive definite even when G is singular. Safeguards: G is
    normalised to Frobenius norm 1 and REGULARIZATION * I is added (the problem is
    unbounded when a non-negative combination of gradients vanishes, e.g. exactly opposite
    gradients), and a task with a zero gradient (absent) is solved apart, with weight 0.

    As in the paper's code (and LibMTL), alpha is solved for the Gramian divided by its
    Frobenius norm: the exact solution has |d| = sqrt(T) whatever the gradients' scale,
    the normalised one scales with the gradients. Also as there, the update is clipped to
    norm `max_norm` (1.0; 0 disables): |d| = sqrt(w^T G w) is known from the Gramian, so
    the weights are scaled down instead of the gradients. The paper's code solves a
    sequence of convex programs with cvxpy every `update_weights_every` steps; this is the
    same solution to float64 precision, every step.

    Cost: at most NEWTON_ITERATIONS Cholesky solves of T×T, O(T^3) each (fewer than 10
    for gradients far from dependent, about 40 near a singular Gramian). Under
    tf.distribute it sees only the global Gramian: exact.
    """

    level = "gradient"
    HYPERPARAMETERS = {
        "max_norm": (1.0, "clip the update to this norm (0: no clipping), as the paper's code",
                     0),
    }

    def task_weights(self, gramian, losses, step):
        del losses, step
        gramian = gramian_lib.finite(gramian)
        frobenius = tf.norm(gramian)
        normalized = gramian / tf.maximum(frobenius, gramian_lib.TINY)
        present = gramian_lib.present_tasks(normalized)
        weights = bargaining_weights(normalized, present)
        max_norm = self.options["max_norm"]
        if max_norm > 0:
            norm = tf.sqrt(tf.maximum(tf.tensordot(weights, tf.linalg.matvec(gramian, weights),
                                                   1), 0.0))
            weights *= tf.minimum(max_norm / tf.maximum(norm, gramian_lib.TINY), 1.0)
        return gramian_lib.to_weights(weights)


def bargaining_weights(gramian, present):
    """alpha > 0 with (G + eps I) alpha = 1 / alpha on the present tasks, 0 elsewhere."""
    task_count = gramian.shape[0]
    identity = tf.eye(task_count, dtype=tf.float64)
    both_present = present[:, None] & present[None, :]
    # An absent task becomes an independent one-dimensional problem (solution 1), then 0.
    gramian = tf.where(both_present, gramian, identity) + REGULARIZATION * identity
    alpha = tf.math.rsqrt(tf.linalg.diag_part(gramian))  # exact for orthogonal gradients

    def condition(iteration, alpha, decrement_squared):
        return (iteration < NEWTON_ITERATIONS) & (decrement_squared > NEWTON_TOLERANCE)

    def body(iteration, alpha, decrement_squared):
        del decrement_squared
        gradient = tf.linalg.matvec(gramian, alpha) - 1.0 / alpha
        hessian = gramian + tf.linalg.diag(1.0 / tf.square(alpha))
        newton_step = -tf.linalg.cholesky_solve(tf.linalg.cholesky(hessian),
                                                gradient[:, None])[:, 0]
        decrement_squared = tf.maximum(-tf.tensordot(gradient, newton_step, 1), 0.0)
        decrement = tf.sqrt(decrement_squared)
        step_size = tf.where(decrement > 0.25, 1.0 / (1.0 + decrement), tf.ones_like(decrement))
        # The damped step stays inside the Dikin ellipsoid, hence a > 0; the floor only
        # guards against rounding.
        alpha = tf.maximum(alpha + step_size * newton_step, 1e-12 * alpha)
        return iteration + 1, alpha, decrement_squared

    _, alpha, _ = tf.while_loop(
        condition, body, [tf.constant(0), alpha, tf.constant(float("inf"), tf.float64)])
    return alpha * tf.cast(present, tf.float64)
