"""GradVac: raise each pair's gradient cosine to its moving average (Wang et al., 2021)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib
from mtl_keras.methods import pcgrad


@base.METHODS.register("gradvac")
class GradVac(base.Method):
    """Gradient Vaccine: for each task i, in a random order of the others j, when the
    cosine of its (corrected) gradient p_i with g_j falls below the target phi_ij, p_i is
    moved along g_j until their cosine is phi_ij; the update is the sum of the p_i. The
    targets are exponential moving averages of the cosines seen.

    Wang et al., "Gradient Vaccine: Investigating and Improving Multi-task Optimization in
    Massively Multilingual Models", ICLR 2021, Algorithm 1 (the whole model as one group,
    as LibMTL's default): with rho = cos(p_i, g_j), if rho < phi_ij then
    p_i <- p_i + |p_i| (phi sqrt(1 - rho^2) - rho sqrt(1 - phi^2)) / (|g_j| sqrt(1 - phi^2))
    g_j; then phi_ij <- (1 - beta) phi_ij + beta rho. The targets start at 0 (the first
    step is PCGrad's). Every p_i stays a combination sum_k C[i, k] g_k, so the algorithm
    runs on the Gramian (as PCGrad): <p_i, g_j> = (C G)[i, j], |p_i|^2 = (C G C^T)[i, i].
    It therefore takes `rep_grad` and is exact under tf.distribute; the targets are state,
    the same on every replica, and the order is drawn from `random_seed(step)`.

    A pair with an absent task or a zero gradient is not corrected and keeps its target
    (its cosine is not known); an absent task's weight is 0. The weights are the column
    sums of C (about T when no pair is corrected). Cost: O(T^3) per step.
    """

    description = ("GradVac: each pair's gradient cosine raised to its moving average "
                   "(Wang et al. 2021)")

    level = "gradient"
    HYPERPARAMETERS = {
        "beta": registry.Option(0.5, "the moving average's step towards the cosine seen "
                                "(LibMTL's default)", minimum=0.0, maximum=1.0),
    }

    def create_variables(self):
        self.targets = self.state_variable("cosine_targets", (self.task_count, self.task_count))

    def task_weights(self, gramian, losses, step, present=None):
        del losses
        gramian, _ = gramian_lib.prepare(gramian)
        present = gramian_lib.presence(present, gramian)
        order = pcgrad.random_orders(self.task_count, self.random_seed(step))
        coefficients, targets = vaccinated_coefficients(
            gramian, present, tf.cast(self.targets, tf.float64), order, self.options["beta"])
        self.targets.assign(tf.cast(targets, tf.float32))
        weights = tf.reduce_sum(coefficients, axis=0) * tf.cast(present, tf.float64)
        return gramian_lib.to_weights(weights)


def vaccinated_coefficients(gramian, present, targets, order, beta):
    """(C [T, T] with p_i = sum_k C[i, k] g_k after GradVac's corrections in `order`, the
    targets after their moving averages)."""
    task_count = gramian.shape[0]
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gramian), 0.0))
    coefficients = tf.eye(task_count, dtype=tf.float64)
    for position in range(task_count):
        other = order[:, position]  # the task each row is corrected towards here
        one_hot = tf.one_hot(other, task_count, dtype=tf.float64)
        inner = tf.reduce_sum(tf.linalg.matmul(coefficients, gramian) * one_hot, axis=1)
        own = tf.sqrt(tf.maximum(tf.linalg.diag_part(
            tf.linalg.matmul(coefficients, tf.linalg.matmul(gramian, coefficients,
                                                            transpose_b=True))), 0.0))
        other_norm = tf.gather(norms, other)
        known = ((own > gramian_lib.TINY) & (other_norm > gramian_lib.TINY)
                 & present & tf.gather(present, other)
                 & (other != tf.range(task_count, dtype=other.dtype)))
        cosine = tf.clip_by_value(inner / tf.maximum(own * other_norm, gramian_lib.TINY),
                                  -1.0, 1.0)
        target = tf.reduce_sum(targets * one_hot, axis=1)
        sine_target = tf.sqrt(tf.maximum(1.0 - target ** 2, 0.0))
        amount = own * (target * tf.sqrt(1.0 - cosine ** 2) - cosine * sine_target) / tf.maximum(
            other_norm * sine_target, gramian_lib.TINY)
        corrected = known & (cosine < target) & (sine_target > gramian_lib.TINY)
        coefficients += tf.where(corrected, amount, tf.zeros_like(amount))[:, None] * one_hot
        averaged = (1.0 - beta) * target + beta * cosine
        targets += tf.where(known, averaged - target, tf.zeros_like(target))[:, None] * one_hot
    return coefficients, targets
