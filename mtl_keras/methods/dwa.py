"""Dynamic weight average (DWA).

Liu, Johns and Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.
"""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base


@base.METHODS.register("dwa")
class DynamicWeightAverage(base.Method):
    """From the third epoch on, task t weighs T softmax_t(r / temperature), where
    r_t = (mean loss of t in the last epoch) / (mean loss of t in the epoch before): a task
    whose loss fell more slowly weighs more. The first two epochs weigh every task 1.
    The epoch means are kept in the method's state (saved and resumed with the run's).
    Cost: O(T) per step.

    A task absent from a step (no known label: loss 0) adds 0 to its epoch's sum, so the
    epoch mean is the true one times the share of steps the task was in; that share is
    about the same from one epoch to the next (the same data, drawn the same way), so it
    cancels in the ratio r_t.
    """

    description = ("Dynamic Weight Average: weights from the losses' rates of descent (Liu"
                   " et al. 2019)")

    HYPERPARAMETERS = {"temperature": registry.Option(2.0, "the softmax temperature T of the "
                                                      "paper", minimum=1e-6)}

    def create_variables(self):
        self.running_sum = self.state_variable("running_sum", (self.task_count,))
        self.last = self.state_variable("last_epoch_mean", (self.task_count,))
        self.before_last = self.state_variable("epoch_before_last_mean", (self.task_count,))

    def objective(self, losses, step):
        # tf.function runs the assignments in program order (automatic control dependencies).
        step = tf.cast(step, tf.int64)
        steps = tf.constant(self.steps_per_epoch, tf.int64)
        starts = tf.logical_and(step > 0, tf.equal(step % steps, 0))  # a new epoch's first step
        last, before_last = self.last.value, self.before_last.value
        self.before_last.assign(tf.where(starts, last, before_last))
        self.last.assign(tf.where(starts, self.running_sum / tf.cast(steps, tf.float32), last))
        self.running_sum.assign(tf.where(starts, tf.zeros_like(losses), self.running_sum) + losses)
        ratio = tf.math.divide_no_nan(self.last, self.before_last)
        weights = tf.where(step // steps >= 2,
                           self.task_count * tf.nn.softmax(ratio / self.options["temperature"]),
                           tf.ones([self.task_count]))
        return tf.reduce_sum(tf.stop_gradient(weights) * losses)
