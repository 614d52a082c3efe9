"""Fast adaptive multitask optimization (FAMO).

Liu, Liang, Yang, Kuo and Ji, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023.
"""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

_EPSILON = 1e-8


@base.METHODS.register("famo")
class FAMO(base.Method):
    """Keeps task logits xi; with z = softmax(xi) and c = sum_t z_t / L_t, the model
    minimises sum_t (z_t / c) log L_t, i.e. task t weighs z_t / (c L_t): every task's log
    loss falls at a rate set by z. The logits learn, by Adam with weight decay, to favour
    the tasks whose log loss fell least: their gradient is the softmax's Jacobian times
    log L_t(before) - log L_t(after).

    The paper measures "after" on the same batch with a second forward pass; here it is
    the next step's loss (another batch), which makes FAMO cost nothing beyond O(T) per
    step, at the price of a noisier signal. The logits, Adam's moments and the last losses
    are the method's state (the same on every replica, saved and resumed with the run).

    A task absent from the step (no known label in the global batch, as the train step's
    `present` says) takes no part: c sums over the tasks present, an absent task weighs 0,
    its last loss is kept, and its fall is counted from the last step it was present in. A
    step with one task (task sampling) weighs it 1. A present task's loss of 0 counts as
    1e-8.
    """

    description = ("FAMO: fast adaptive weights balancing the losses' rates of descent "
                   "(Liu et al. 2023)")

    HYPERPARAMETERS = {
        "learning_rate": registry.Option(0.025, "Adam's learning rate for the task logits",
                                         minimum=0),
        "weight_decay": registry.Option(0.001, "the logits' weight decay (gamma in the paper)",
                                        minimum=0),
    }

    def create_variables(self):
        shape = (self.task_count,)
        self.logits = self.state_variable("logits", shape)
        self.first_moment = self.state_variable("adam_first_moment", shape)
        self.second_moment = self.state_variable("adam_second_moment", shape)
        self.updates = self.state_variable("adam_updates", ())
        self.previous = self.state_variable("previous_losses", shape)

    def objective(self, losses, step, present=None):
        # tf.function runs the assignments in program order (automatic control dependencies).
        present = gramian_lib.presence(present, losses)
        # An absent task's placeholder is 1 (log 0); a present loss is at least _EPSILON.
        losses = tf.where(present, tf.maximum(losses, _EPSILON), 1.0)
        self._learn(losses, present, learns=tf.cast(step, tf.int64) > 0)
        self.previous.assign(tf.where(present, losses, self.previous))
        weights = tf.where(present, tf.nn.softmax(self.logits), 0.0)
        normaliser = tf.maximum(tf.reduce_sum(weights / losses), _EPSILON)
        return tf.reduce_sum(tf.stop_gradient(weights / normaliser) * tf.math.log(losses))

    def _learn(self, losses, present, learns):
        """One Adam step on the logits from the fall of the log losses since the tasks'
        last steps (none at the first step, and no fall for a task not present now and
        before)."""
        known = present & (self.previous > 0)
        fall = tf.where(known, tf.math.log(tf.maximum(self.previous, _EPSILON))
                        - tf.math.log(losses), 0.0)
        weights = tf.nn.softmax(self.logits)
        # The softmax's Jacobian (diag(z) - z z^T) times the fall.
        gradient = weights * fall - weights * tf.reduce_sum(weights * fall)
        gradient += self.options["weight_decay"] * self.logits
        beta_1, beta_2 = 0.9, 0.999
        count = self.updates + 1.0
        first = beta_1 * self.first_moment + (1 - beta_1) * gradient
        second = beta_2 * self.second_moment + (1 - beta_2) * tf.square(gradient)
        step = (self.options["learning_rate"] * (first / (1 - beta_1 ** count))
                / (tf.sqrt(second / (1 - beta_2 ** count)) + _EPSILON))
        for variable, value in ((self.updates, count), (self.first_moment, first),
                                (self.second_moment, second),
                                (self.logits, self.logits - step)):
            variable.assign(tf.where(learns, value, variable.value))
