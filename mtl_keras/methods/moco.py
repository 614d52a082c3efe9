"""MoCo: tracked task gradients and weights from their Gramian (Fernando et al., 2023)."""

import keras
import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import db_mtl
from mtl_keras.methods import gramian as gramian_lib

NORM_EPSILON = 1e-8


@base.METHODS.register("moco")
class MoCo(base.TaskGradientMethod):
    """Multi-objective gradient correction: moving averages y_t track the task gradients,
    whose min-norm combination is sought by a projected gradient step on the weights.

    Fernando et al., "Mitigating Gradient Bias in Multi-objective Learning: A Provably
    Convergent Approach", ICLR 2023, as LibMTL's `MoCo` (from the authors' code) and its
    defaults: with k the step (from 1), h_t = g_t / (|g_t| + eps) L_t,
    y_t <- y_t - beta / k^beta_sigma (y_t - h_t) (y_t = 0 before the first step),
    lambda <- softmax(lambda - gamma / k^gamma_sigma (Y Y^T + rho I) lambda) (lambda = 1/T
    before the first step), and the update Y^T lambda; lambda is logged as HEAD_weight.

    The tracked gradients are [T, D] state over the shared variables (updated the same way
    on every replica from the global task gradients): `rep_grad` is refused, as in LibMTL.
    An absent task's y_t keeps its value, and its lambda is 0 for the step: the softmax
    runs over the tasks present. Cost: O(T^2 D) per step and T D numbers of state.
    """

    description = ("MoCo: tracked task gradients combined by weights learned on their Gramian "
                   "(Fernando et al. 2023)")

    logs_weights = True
    HYPERPARAMETERS = {
        "beta": registry.Option(0.5, "the tracking step of y (LibMTL's default)",
                                minimum=0.0, maximum=1.0),
        "beta_sigma": registry.Option(0.5, "its decay: beta / k^beta_sigma (LibMTL's default)",
                                      minimum=0.0),
        "gamma": registry.Option(0.1, "the step of lambda (LibMTL's default)", minimum=0.0),
        "gamma_sigma": registry.Option(0.5, "its decay: gamma / k^gamma_sigma (LibMTL's "
                                       "default)", minimum=0.0),
        "rho": registry.Option(0.0, "the l2 regularisation of lambda's step (LibMTL's "
                               "default)", minimum=0.0),
    }

    def create_variables(self):
        self.tracked = self.state_variable("tracked_gradients", (self.task_count, self.dimension))
        self.lambdas = self.state_variable(
            "lambdas", (self.task_count,),
            initializer=keras.initializers.Constant(1.0 / self.task_count))

    def combine(self, gradients, losses, step, present=None):
        present = gramian_lib.presence(present, gradients)
        options = self.options
        norms = tf.norm(gradients, axis=1, keepdims=True)
        normalized = gradients / (norms + NORM_EPSILON) * losses[:, None]
        rate = db_mtl.step_rate(options["beta"], options["beta_sigma"], step)
        tracked = tf.where(present[:, None], self.tracked - rate * (self.tracked - normalized),
                           self.tracked)
        gramian = tf.matmul(tracked, tracked, transpose_b=True)
        gramian += options["rho"] * tf.eye(self.task_count)
        rate = db_mtl.step_rate(options["gamma"], options["gamma_sigma"], step)
        logits = self.lambdas - rate * tf.linalg.matvec(gramian, self.lambdas)
        logits = tf.where(present, logits, tf.fill(tf.shape(logits), float("-inf")))
        weights = tf.where(tf.reduce_any(present), tf.nn.softmax(logits), tf.zeros_like(logits))
        self.tracked.assign(tracked)
        self.lambdas.assign(weights)
        return tf.linalg.matvec(tracked, weights, transpose_a=True), weights
