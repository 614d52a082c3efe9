"""CAGrad: conflict-averse gradient descent (Liu et al., 2021)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib


@base.METHODS.register("cagrad")
class CAGrad(base.Method):
    """The update d maximising the worst task's improvement min_i <g_i, d> within a ball
    around the average gradient g0: |d - g0| <= c |g0|.

    Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021.
    Its dual is a problem on the simplex: w minimises F(w) = <g_w, g0> + c |g0| |g_w|,
    g_w = sum_i w_i g_i; then d = g0 + (c |g0| / |g_w|) g_w. In Gramian terms
    <g_w, g0> = w^T G b (b = 1/T), |g_w|^2 = w^T G w, |g0|^2 = b^T G b: the update's
    coefficients are b + (c |g0| / |g_w|) w. As in the paper's code and LibMTL (their
    `rescale=1`, the default), they are divided by 1 + c^2; `rescale=0` keeps them,
    `rescale=2` divides by 1 + c. c = 0 is the average gradient; for 0 <= c < 1 the paper proves
    convergence to a stationary point of the average loss; a larger c tends to MGDA.

    Solver: pairwise Frank-Wolfe on the simplex (`gramian.simplex_descent`), whose line
    search along g_w + h (g_t - g_s) has a closed form (F on a line is a linear term plus
    c |g0| times a hyperbola). Cost: O(T^2) per iteration. Tasks absent from the step are
    left out of both g0 and the simplex; a present task stays in both however small its
    gradient (a zero g_w leaves the mean gradient, as TorchJD's).

    The update is at the scale of the mean gradient, as in the paper. Under
    tf.distribute it sees only the global Gramian: exact.
    """

    description = "CAGrad: the best worst-case improvement near the mean gradient (Liu et al. 2021)"

    level = "gradient"
    HYPERPARAMETERS = {
        # Beyond a few norms the ball holds every direction and the rescaled update
        # vanishes (c = 1e30 gives weights of 0): the papers tune c within [0.1, 0.9].
        "c": registry.Option(0.4, "radius of the ball around the mean gradient, in units of "
                             "its norm", minimum=0, maximum=10),
        "rescale": registry.Option(1, "divide the update by 0: 1, 1: 1 + c^2 (paper, LibMTL), "
                                   "2: 1 + c", choices=(0, 1, 2)),
    }

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian, _ = gramian_lib.prepare(gramian)
        present = gramian_lib.presence(present, gramian)
        present_float = tf.cast(present, tf.float64)
        average = present_float / tf.maximum(tf.reduce_sum(present_float), 1.0)
        radius = self.options["c"] * tf.sqrt(tf.maximum(
            tf.tensordot(average, tf.linalg.matvec(gramian, average), 1), 0.0))
        weights = conflict_averse_weights(gramian, present, average, radius)
        weights_norm = tf.sqrt(tf.maximum(
            tf.tensordot(weights, tf.linalg.matvec(gramian, weights), 1), 0.0))
        # A zero g_w (0 in the hull, or no radius) leaves the mean gradient.
        multiplier = tf.where(weights_norm > 1e-12, radius / tf.maximum(weights_norm, 1e-12),
                              tf.zeros_like(radius))
        c = self.options["c"]
        divisor = {0: 1.0, 1: 1.0 + c * c, 2: 1.0 + c}[int(self.options["rescale"])]
        return gramian_lib.to_weights((average + multiplier * weights) / divisor)


def conflict_averse_weights(gramian, allowed, average, radius):
    """argmin over the simplex of w^T G average + radius sqrt(w^T G w) (float64 [T])."""
    gramian_average = tf.linalg.matvec(gramian, average)

    def gradient(weights, gramian_weights):
        norm = tf.sqrt(tf.maximum(tf.tensordot(weights, gramian_weights, 1), 0.0))
        return gramian_average + radius * gramian_weights / tf.maximum(norm, 1e-12)

    def line_step(source, target, weights, gramian_weights):
        # On g_w + h δ, δ = g_t - g_s: F = slope h + radius sqrt(A h^2 + 2 B h + C).
        slope = tf.gather(gramian_average, target) - tf.gather(gramian_average, source)
        curvature = gramian_lib.pair_terms(gramian, source, target)  # A = |δ|^2
        cross = tf.gather(gramian_weights, target) - tf.gather(gramian_weights, source)  # B
        squared_norm = tf.tensordot(weights, gramian_weights, 1)  # C
        return line_minimum(slope, curvature, cross, squared_norm, radius)

    return gramian_lib.simplex_descent(gramian, allowed, gradient, line_step)


def line_minimum(slope, curvature, cross, squared_norm, radius):
    """argmin over h of slope h + radius sqrt(curvature h^2 + 2 cross h + squared_norm).

    With u = h + cross / curvature and D = squared_norm - cross^2 / curvature >= 0 (the
    squared distance from 0 to the line), the derivative slope + radius A u / sqrt(A u^2 + D)
    vanishes at u = -slope sqrt(D / (A (radius^2 A - slope^2))) when radius^2 A > slope^2;
    otherwise the function is monotone and the best step is +inf (slope < 0) or 0.
    """
    infinity = tf.constant(float("inf"), tf.float64)
    boundary = tf.where(slope < 0.0, infinity, tf.zeros_like(slope))
    safe_curvature = tf.maximum(curvature, gramian_lib.TINY)
    distance = tf.maximum(squared_norm - cross * cross / safe_curvature, 0.0)
    margin = radius * radius * safe_curvature - slope * slope
    interior = -slope * tf.sqrt(distance / (safe_curvature * tf.maximum(margin, gramian_lib.TINY)))
    interior -= cross / safe_curvature
    return tf.where((curvature > gramian_lib.TINY) & (margin > 0.0), interior, boundary)
