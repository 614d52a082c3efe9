"""Uncertainty weighting (UW).

Kendall, Gal and Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene
Geometry and Semantics", CVPR 2018.
"""

import tensorflow as tf

from mtl_keras.methods import base


@base.METHODS.register("uw")
class UncertaintyWeighting(base.Method):
    """Each task t has a learned log-variance s_t; the model minimises
    sum_t exp(-s_t) L_t + s_t / 2 (the paper's classification form, 1/sigma^2 L + log sigma),
    so a task's weight exp(-s_t) settles where exp(-s_t) L_t = 1/2. The s_t start at 0
    (every weight 1, as with equal weighting) and are trained by the model's optimizer,
    without weight decay. Cost: a few operations on T numbers per step.
    Under tf.distribute: it sees the global losses; the gradient of s is the same on every
    replica, and the train step scales it so that the optimizer's sum over replicas is it.
    """

    description = ("uncertainty weighting: learned homoscedastic task variances (Kendall "
                   "et al. 2018)")

    def create_variables(self):
        self.log_variance = self.add_weight(name="log_variance", shape=(self.task_count,),
                                            initializer="zeros", trainable=True)

    def objective(self, losses, step):
        del step
        return tf.reduce_sum(tf.exp(-self.log_variance) * losses + 0.5 * self.log_variance)
