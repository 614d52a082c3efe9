"""Nash-MTL: the Nash bargaining solution among the tasks (Navon et al., 2022)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Added to the diagonal of the cosine matrix (each task's own squared norm, relatively):
# the bargaining problem has no solution when some non-negative combination of the
# gradients is zero (exactly opposite gradients); with it, the weights are large but
# finite there and the update tends to 0. Relative to each task's own norm, it moves the
# solution by the same small fraction whatever the gradients' sizes.
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
    gradient is G a - 1/a. The update d = sum_i alpha_i g_i has |d|^2 = alpha^T G alpha = T
    whatever the gradients' scale, and its direction gives every task the same share,
    alpha_i <g_i, d> = 1; for orthogonal gradients, alpha_i = 1 / |g_i|: d is the sum of
    the unit gradients. The paper's code (and LibMTL's, TorchJD's) divides G by its
    Frobenius norm for its solver and multiplies it back into the constraint: it solves
    this same equation.

    Solver: in the variables b = N alpha (N = diag |g_i|) the equation is C b = 1 / b with
    C = N^-1 G N^-1, the cosines of the gradients (unit diagonal), so alpha = N^-1 b
    exactly; the conditioning no longer depends on the gradients' norms, and REGULARIZATION
    * I added to C (the problem is unbounded when a non-negative combination of gradients
    vanishes) is relative to each task's own norm: a gradient 1e-6 times the others' keeps
    its share of the direction. b minimises b^T C b / 2 - sum log b, found by Newton's
    method, damped as for self-concordant functions (step 1 / (1 + decrement)) so that
    every iterate stays positive; the Hessian C + diag(1/b^2) is positive definite even
    when C is singular. A task absent from the step gets weight 0; so does a present task
    with a zero gradient, for which the equation has no solution (the weight of a shrinking
    gradient grows as 1 / |g_i|; its zero gradient adds nothing to the update).

    As in the paper's code, the update is clipped to norm `max_norm` (1.0; 0 disables):
    |d| = sqrt(w^T G w) is known from the Gramian, so the weights are scaled down instead
    of the gradients. With the default, every update with two tasks or more has norm 1
    (|d| = sqrt(T) before clipping; with `rep_grad`, the combination at the representation):
    its size does not follow the gradients', so with SGD the learning rate is the step's
    length. The paper's code solves a sequence of convex programs with cvxpy every
    `update_weights_every` steps; this is the same solution to float64 precision, every
    step.

    Cost: one T×T eigendecomposition and at most NEWTON_ITERATIONS Cholesky solves of T×T,
    O(T^3) each (fewer than 10 for gradients far from dependent, about 40 near a singular
    Gramian). Under tf.distribute it sees only the global Gramian: exact.
    """

    description = "Nash-MTL: the Nash bargaining solution among the tasks (Navon et al. 2022)"

    level = "gradient"
    HYPERPARAMETERS = {
        "max_norm": registry.Option(1.0, "clip the update to this norm (0: no clipping), as the "
                                    "paper's code", minimum=0),
    }

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian = gramian_lib.finite(gramian)
        weights = bargaining_weights(gramian, gramian_lib.presence(present, gramian))
        max_norm = self.options["max_norm"]
        if max_norm > 0:
            norm = tf.sqrt(tf.maximum(tf.tensordot(weights, tf.linalg.matvec(gramian, weights),
                                                   1), 0.0))
            weights *= tf.minimum(max_norm / tf.maximum(norm, gramian_lib.TINY), 1.0)
        return gramian_lib.to_weights(weights)


def bargaining_weights(gramian, present):
    """alpha > 0 with G alpha = 1 / alpha on the present tasks with a nonzero gradient (up to
    REGULARIZATION, relative to each one's squared norm), 0 elsewhere (float64 [T])."""
    solved, inverse_norms, cosines = gramian_lib.unit_cosines(gramian, present)
    identity = tf.eye(gramian.shape[0], dtype=tf.float64)
    # A task left out becomes an independent one-dimensional problem, then gets weight 0.
    cosines = tf.where(solved[:, None] & solved[None, :], cosines, identity)
    # Float32 rounding of the Gramian can leave C slightly indefinite (on a Gramian of
    # nearly dependent gradients), where the Cholesky factorisation would fail: shift it
    # back to positive semi-definite first.
    smallest = tf.reduce_min(tf.linalg.eigvalsh(cosines))
    cosines += (REGULARIZATION + tf.maximum(-smallest, 0.0)) * identity
    return newton_solution(cosines) * inverse_norms


def newton_solution(matrix):
    """b > 0 with matrix b = 1 / b, for a positive definite `matrix` (float64 [T, T])."""
    solution = tf.math.rsqrt(tf.linalg.diag_part(matrix))  # exact for orthogonal gradients

    def condition(iteration, solution, decrement_squared):
        del solution
        return (iteration < NEWTON_ITERATIONS) & (decrement_squared > NEWTON_TOLERANCE)

    def body(iteration, solution, decrement_squared):
        del decrement_squared
        gradient = tf.linalg.matvec(matrix, solution) - 1.0 / solution
        hessian = matrix + tf.linalg.diag(1.0 / tf.square(solution))
        newton_step = -tf.linalg.cholesky_solve(tf.linalg.cholesky(hessian),
                                                gradient[:, None])[:, 0]
        decrement_squared = tf.maximum(-tf.tensordot(gradient, newton_step, 1), 0.0)
        decrement = tf.sqrt(decrement_squared)
        step_size = tf.where(decrement > 0.25, 1.0 / (1.0 + decrement), tf.ones_like(decrement))
        # The damped step stays inside the Dikin ellipsoid, hence b > 0; the floor only
        # guards against rounding.
        solution = tf.maximum(solution + step_size * newton_step, 1e-12 * solution)
        return iteration + 1, solution, decrement_squared

    _, solution, _ = tf.while_loop(
        condition, body, [tf.constant(0), solution, tf.constant(float("inf"), tf.float64)])
    return solution
