"""Geometric loss strategy (GLS).

Chennupati, Sistu, Yogamani and Rawashdeh, "MultiNet++: Multi-Stream Feature Aggregation and
Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019.
"""

import tensorflow as tf

from mtl_keras.methods import base

# Losses below this count as this: the logarithm of an absent task's 0 would be -inf.
_FLOOR = 1e-8


@base.METHODS.register("gls")
class GeometricLossStrategy(base.Method):
    """Minimises the geometric mean of the losses, (prod_t L_t)^(1/T): task t's weight is
    GM / (T L_t), large for the tasks with small losses. Cost: O(T) per step.
    """

    supports_absent_tasks = False

    def objective(self, losses, step):
        del step
        return tf.exp(tf.reduce_mean(tf.math.log(tf.maximum(losses, _FLOOR))))
