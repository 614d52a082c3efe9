"""DualProj: the mean gradient projected onto the dual cone of the gradients (Lopez-Paz &
Ranzato, NeurIPS 2017, as TorchJD applies it: Quinton & Rey, 2024)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib
from mtl_keras.methods import upgrad


@base.METHODS.register("dualproj")
class DualProj(base.Method):
    """The mean of the gradients projected onto their dual cone {x : <x, g_j> >= 0 for all
    j}: the closest update to the mean that conflicts with no task.

    The projection is that of Lopez-Paz & Ranzato, "Gradient Episodic Memory for Continual
    Learning", NeurIPS 2017 (its equation 11), applied to the mean gradient as TorchJD's
    `DualProj` (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024;
    its defaults). As for UPGrad (upgrad.py, whose normalisation and solver it shares), the
    projection of J^T u is J^T v with v = argmin v^T G v subject to v >= u, here for the
    one vector u = 1/P on the P tasks present (an absent task gets weight 0, the others
    as if it were not there), on the Gramian divided by its trace with `reg_eps` * I
    added: the same weights for gradients of any common scale. A present task with a zero
    gradient adds no constraint and keeps its 1/P of its own (zero) gradient.

    Weights are at least 1/P each. Cost: the active-set solver on one T×T QP. Under
    tf.distribute it sees only the global Gramian: exact.
    """

    description = ("DualProj: the mean gradient projected onto the gradients' dual cone "
                   "(TorchJD)")

    level = "gradient"
    HYPERPARAMETERS = {
        "reg_eps": registry.Option(1e-4, "added to the diagonal of the trace-normalised Gramian "
                                   "(TorchJD); it keeps the Gramian positive definite",
                                   minimum=upgrad.SMALLEST_REGULARIZATION),
    }

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        present = tf.cast(gramian_lib.presence(present, gramian), tf.float64)
        gramian = upgrad.normalized(gramian, self.options["reg_eps"])
        mean = present / tf.maximum(tf.reduce_sum(present), 1.0)
        projection = upgrad.dual_cone_projections(gramian, mean[None, :])
        return gramian_lib.to_weights(projection[0])
