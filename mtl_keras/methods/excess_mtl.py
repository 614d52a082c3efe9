"""ExcessMTL: task weights raised with each task's excess risk (He et al., 2024)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# LibMTL's (from the authors' code): keeps the AdaGrad denominator positive.
ACCUMULATOR_EPSILON = 1e-7


@base.METHODS.register("excess_mtl")
class ExcessMTL(base.TaskGradientMethod):
    """Excess-risk weighting: each task's excess risk is estimated by its gradient's
    squared norm under an AdaGrad preconditioner, relative to its first estimate, and the
    task weights grow multiplicatively with it (exponentiated gradient ascent), sum T.

    He et al., "Robust Multi-Task Learning with Excess Risks", ICML 2024, as LibMTL's
    `ExcessMTL` (from the authors' code) and its default step: with a_t the running sum
    of g_t^2 (coordinate-wise, this step's included), r_t = sum_d g_td^2 / sqrt(a_td + eps);
    at a task's first step r_t is recorded as r_t^0 and its weight kept, then
    w_t <- w_t exp(robust_step_size r_t / r_t^0), and the weights are rescaled to sum T.
    The update is sum_t w_t g_t (w = 1 at first: equal's); the heads move along their own
    losses' gradients, as with every gradient method here. The weights are logged.

    The accumulators are [T, D] state over the shared variables (updated the same way on
    every replica from the global task gradients): `rep_grad` is refused. An absent task's
    accumulator, first estimate and weight stay as they were, and it gets weight 0 for the
    step. Cost: O(T D) per step and T D numbers of state.
    """

    description = ("ExcessMTL: weights grown with each task's estimated excess risk "
                   "(He et al. 2024)")

    logs_weights = True
    HYPERPARAMETERS = {
        "robust_step_size": registry.Option(0.01, "the step of the weights' exponentiated "
                                            "ascent (LibMTL's default)", minimum=0.0),
    }

    def create_variables(self):
        shape = (self.task_count,)
        self.accumulators = self.state_variable("squared_gradient_sums",
                                                (self.task_count, self.dimension))
        self.first_risks = self.state_variable("first_risks", shape)
        self.seen = self.state_variable("seen", shape)
        self.loss_weights = self.state_variable("loss_weights", shape, initializer="ones")

    def combine(self, gradients, losses, step, present=None):
        del losses, step
        present = gramian_lib.presence(present, gradients)
        accumulators = self.accumulators + tf.where(present[:, None], tf.square(gradients), 0.0)
        risks = tf.reduce_sum(tf.square(gradients) / tf.sqrt(accumulators + ACCUMULATOR_EPSILON),
                              axis=1)
        seen = self.seen > 0
        first = present & tf.logical_not(seen)
        first_risks = tf.where(first, risks, self.first_risks)
        growing = present & seen
        ratio = tf.math.divide_no_nan(risks, first_risks)
        weights = self.loss_weights * tf.where(
            growing, tf.exp(self.options["robust_step_size"] * ratio), 1.0)
        weights = weights / tf.reduce_sum(weights) * self.task_count
        self.accumulators.assign(accumulators)
        self.first_risks.assign(first_risks)
        self.seen.assign(tf.where(present, 1.0, self.seen))
        self.loss_weights.assign(weights)
        applied = tf.where(present, weights, 0.0)
        return tf.linalg.matvec(gradients, applied, transpose_a=True), applied
