"""DB-MTL: log losses, moving averages of their gradients, scaled to the largest norm
(Lin et al., 2023)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# LibMTL's: keeps log(L) and its gradient g / L finite for a loss of 0.
LOSS_EPSILON = 1e-8
NORM_EPSILON = 1e-8


@base.METHODS.register("db_mtl")
class DBMTL(base.TaskGradientMethod):
    """Dual-balancing multi-task learning: each task's loss is balanced by taking its
    logarithm, its gradient by a moving average rescaled to the norm of the largest one.

    Lin et al., "Dual-Balancing for Multi-Task Learning", 2023 (arXiv:2308.12029),
    Algorithm 1, as LibMTL's `DB_MTL` and its defaults: with h_t = grad log(L_t + eps) =
    g_t / (L_t + eps) and k the step (from 1), the moving average
    m_t <- h_t + beta / k^beta_sigma (m_t - h_t) (m_t = 0 before the first step); the
    update is sum_t alpha_t m_t with alpha_t = max_s |m_s| / (|m_t| + eps), the weights
    logged as HEAD_weight.

    The moving averages are [T, D] state over the shared variables (updated the same way on
    every replica from the global task gradients): `rep_grad` is refused, as in LibMTL. An
    absent task's average keeps its value (its gradient is not known) and the task is left
    out of the update and of the largest norm. Cost: O(T D) per step and T D numbers of
    state.
    """

    description = ("DB-MTL: log losses, gradient moving averages scaled to the largest norm "
                   "(Lin et al. 2023)")

    logs_weights = True
    HYPERPARAMETERS = {
        "beta": registry.Option(0.9, "the moving average's weight of the past (LibMTL's "
                                "default)", minimum=0.0, maximum=1.0),
        "beta_sigma": registry.Option(0.0, "the decay of beta with the step: beta / "
                                      "k^beta_sigma (LibMTL's default)", minimum=0.0),
    }

    def create_variables(self):
        self.averages = self.state_variable("gradient_averages", (self.task_count, self.dimension))

    def combine(self, gradients, losses, step, present=None):
        present = gramian_lib.presence(present, gradients)
        rate = step_rate(self.options["beta"], self.options["beta_sigma"], step)
        log_gradients = gradients / (losses[:, None] + LOSS_EPSILON)
        averages = tf.where(present[:, None],
                            log_gradients + rate * (self.averages - log_gradients), self.averages)
        self.averages.assign(averages)
        norms = tf.norm(averages, axis=1)
        largest = tf.reduce_max(tf.where(present, norms, tf.zeros_like(norms)))
        weights = tf.where(present, largest / (norms + NORM_EPSILON), tf.zeros_like(norms))
        return tf.linalg.matvec(averages, weights, transpose_a=True), weights


def step_rate(rate, decay, step):
    """rate / k^decay for the step k counted from 1 (LibMTL's schedule of MoCo and DB-MTL)."""
    count = tf.cast(step, tf.float32) + 1.0
    return rate / tf.pow(count, decay)
