"""Geometric loss strategy (GLS).

Chennupati, Sistu, Yogamani and Rawashdeh, "MultiNet++: Multi-Stream Feature Aggregation and
Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019.
"""

import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# A present task's loss below this counts as this (its logarithm).
_FLOOR = 1e-8


@base.METHODS.register("gls")
class GeometricLossStrategy(base.Method):
    """Minimises the geometric mean of the losses, (prod_t L_t)^(1/T): task t's weight is
    GM / (T L_t), large for the tasks with small losses. Cost: O(T) per step.

    A task absent from the step (no known label in the global batch, as the train step's
    `present` says) is left out: the mean is over the P tasks present, their weights
    GM / (P L_t). A step with one task (task sampling) weighs it 1. A present task's loss
    of 0 counts as 1e-8 (the geometric mean falls with it).
    """

    description = ("geometric loss strategy: the geometric mean of the losses (Chennupati "
                   "et al. 2019)")

    def objective(self, losses, step, present=None):
        del step
        present = tf.cast(gramian_lib.presence(present, losses), tf.float32)
        logs = tf.math.log(tf.maximum(losses, _FLOOR)) * present
        return tf.exp(tf.reduce_sum(logs) / tf.maximum(tf.reduce_sum(present), 1.0))
