"""GradNorm: task weights learned to balance the gradient norms (Chen et al., 2018)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib


@base.METHODS.register("gradnorm")
class GradNorm(base.Method):
    """Task weights w = T softmax(theta), trained so that each weighted task gradient's norm
    w_i |g_i| moves towards the average norm times (r_i)^alpha, r_i the task's relative
    inverse training rate.

    Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep
    Multitask Networks", ICML 2018. `auxiliary_loss` is the paper's
    L_grad = sum_i |w_i |g_i| - mean_j(w_j |g_j|) r_i^alpha|, the target held constant,
    with |g_i| = sqrt(G_ii) (the Gramian of the gradients the trainer chose: the paper uses
    those of the last shared layer), L~_i = L_i / L_i(0), r_i = L~_i / mean_j L~_j. The
    train step differentiates it with respect to theta only, and the model's optimizer
    updates theta. The weights sum to T by construction (the paper renormalises them to T
    after each step; LibMTL uses the same softmax).

    "Initial" loss L_i(0): the task's loss at the first step in which it is present, kept
    in a state variable (so it survives a resume). LibMTL instead averages the
    first epoch's losses and weighs equally during that epoch.

    A task absent from the step takes no part in the averages and adds nothing to L_grad
    (its weight, a learned variable, is unchanged: its gradient is zero). Cost: O(T).
    Under tf.distribute it sees only the global Gramian and losses, and its state
    variables get the same values on every replica.
    """

    description = ("GradNorm: learned weights equalising gradient norms and training rates"
                   " (Chen et al. 2018)")

    level = "gradient"
    HYPERPARAMETERS = {
        "alpha": registry.Option(1.5, "strength of the pull towards a common training rate",
                                 minimum=0),
    }

    def create_variables(self):
        self.logits = self.add_weight(name="logits", shape=(self.task_count,),
                                      initializer="zeros", trainable=True)
        self.initial_losses = self.state_variable("initial_losses", shape=(self.task_count,),
                                                  initializer="ones")
        self.initial_seen = self.state_variable("initial_seen", shape=(self.task_count,))

    def current_weights(self):
        """T softmax(theta), differentiable in theta."""
        return self.task_count * tf.nn.softmax(self.logits)

    def task_weights(self, gramian, losses, step, present=None):
        del gramian, losses, step, present
        return tf.stop_gradient(self.current_weights())

    def auxiliary_loss(self, gramian, losses, step, present=None):
        del step
        gramian = tf.stop_gradient(tf.cast(gramian_lib.finite(gramian), tf.float32))
        losses = tf.stop_gradient(tf.cast(losses, tf.float32))
        present = gramian_lib.presence(present, gramian)
        initial = self._record_initial_losses(losses, present)
        present_float = tf.cast(present, tf.float32)
        count = tf.maximum(tf.reduce_sum(present_float), 1.0)
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gramian), 0.0)) * present_float
        weighted_norms = self.current_weights() * norms
        relative_losses = tf.where(initial > 0, losses / tf.maximum(initial, 1e-30),
                                   tf.ones_like(losses)) * present_float
        mean_relative = tf.reduce_sum(relative_losses) / count
        rates = tf.where(mean_relative > 0, relative_losses / tf.maximum(mean_relative, 1e-30),
                         present_float)
        target = tf.stop_gradient(tf.reduce_sum(weighted_norms) / count
                                  * tf.pow(rates, self.options["alpha"]))
        return tf.reduce_sum(tf.abs(weighted_norms - target) * present_float)

    def _record_initial_losses(self, losses, present):
        """Records each task's loss the first time it is present; returns L_i(0)."""
        first_time = present & (self.initial_seen < 0.5)
        initial = tf.where(first_time, losses, self.initial_losses)
        self.initial_losses.assign(initial)
        self.initial_seen.assign(tf.where(present, tf.ones_like(self.initial_seen),
                                          self.initial_seen))
        return initial
