"""MGDA: the min-norm point of the convex hull of the task gradients (Sener & Koltun, 2018)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# --weighting_options=normalization=N: LibMTL's gradient normalisations, by number.
NORMALIZATIONS = ("none", "l2", "loss", "loss+")


@base.METHODS.register("mgda")
class MGDA(base.Method):
    """Multiple-gradient descent: the update is the point of minimal norm in the convex
    hull of the task gradients.

    Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
    The weights w minimise w^T G w over the simplex (w >= 0, sum 1); the update
    sum_i w_i g_i is zero exactly at a Pareto-stationary point, and otherwise decreases
    every task's loss. With representation gradients (the trainer's choice), the Gramian is
    that of the gradients with respect to the shared representation, which is MGDA-UB, the
    paper's upper bound.

    Optional normalisation (LibMTL's `mgda_gn`, `--weighting_options=normalization=N`):
    0 none (the default, the paper's method), 1 l2 (g_i / |g_i|), 2 loss (g_i / L_i),
    3 loss+ (g_i / (L_i |g_i|)). The hull is then that of the normalised gradients, and the
    weights returned are the hull's weights divided by each task's normaliser, so that the
    update is the min-norm point of the normalised hull.

    Solver: pairwise Frank-Wolfe with exact line search (`gramian.simplex_descent`), O(T^2)
    per iteration, converging linearly (to float64 precision, at most 1,000 iterations);
    for two tasks one step reaches the closed form. Tasks absent from the step are left
    out of the hull. A present task stays in it however small its gradient, so the update
    shrinks continuously with it; a zero one is the min-norm point (update 0), as for the
    exact solution.

    Weights sum to 1 (a convex combination, the scale of a mean of the gradients). Under
    tf.distribute the method sees only the global Gramian (and the global losses for the
    loss normalisations): exact.
    """

    description = "MGDA: the min-norm point of the gradients' convex hull (Sener & Koltun 2018)"

    level = "gradient"
    HYPERPARAMETERS = {
        "normalization": registry.Option(0, "gradient normalisation: 0 none, 1 l2, 2 loss, 3 "
                                         "loss+ (LibMTL)",
                                         choices=tuple(range(len(NORMALIZATIONS)))),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.normalization = NORMALIZATIONS[int(self.options["normalization"])]

    def task_weights(self, gramian, losses, step, present=None):
        del step
        original = gramian_lib.finite(gramian)
        normalizers = self._normalizers(original, tf.cast(losses, tf.float64))
        scaled = original / (normalizers[:, None] * normalizers[None, :])
        scaled, _ = gramian_lib.prepare(scaled)
        weights = min_norm_weights(scaled, gramian_lib.presence(present, scaled))
        return gramian_lib.to_weights(weights / normalizers)

    def _normalizers(self, gramian, losses):
        """Each task's normaliser, 1 for "none"; never zero (a zero gradient or loss keeps 1,
        its row of the Gramian stays zero)."""
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gramian), 0.0))
        normalizers = {"none": tf.ones_like(losses), "l2": norms, "loss": losses,
                       "loss+": losses * norms}[self.normalization]
        return tf.where(normalizers > gramian_lib.TINY, normalizers, tf.ones_like(normalizers))


def min_norm_weights(gramian, allowed):
    """argmin w^T G w over the simplex of the `allowed` tasks (float64 [T])."""

    def gradient(weights, gramian_weights):
        del weights
        return gramian_weights

    def line_step(source, target, weights, gramian_weights):
        del weights
        # Along e_t - e_s: w^T G w changes by 2 h (Gw_t - Gw_s) + h^2 |g_t - g_s|^2.
        curvature = gramian_lib.pair_terms(gramian, source, target)
        slope = tf.gather(gramian_weights, source) - tf.gather(gramian_weights, target)
        # Identical gradients (no curvature): any step is as good; move all of it.
        return tf.where(curvature > gramian_lib.TINY,
                        slope / tf.maximum(curvature, gramian_lib.TINY),
                        tf.constant(float("inf"), tf.float64))

    return gramian_lib.simplex_descent(gramian, allowed, gradient, line_step)
