"""ConFIG: conflict-free updates from the unit gradients (Liu et al., 2025)."""

import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib
from mtl_keras.methods import imtl


@base.METHODS.register("config")
class ConFIG(base.Method):
    """The update along the direction whose projections on every unit task gradient are
    equal (the pseudo-inverse of the unit gradients applied to 1), with the length of the
    sum of the gradients' projections on it.

    Liu, Chen and Thuerey, "ConFIG: Towards Conflict-free Training of Physics Informed
    Neural Networks", ICLR 2025 (its equation 2, as TorchJD's `ConFIG` with its default
    preference vector of ones). With U the unit gradients (rows u_i = g_i / |g_i|),
    d* = pinv(U) 1 and e = d* / |d*|, the update is (sum_i <g_i, e>) e. Through the
    Gramian: pinv(U) = U^T pinv(U U^T), and U U^T = C = N^-1 G N^-1 are the cosines (N =
    diag |g_i|), so d* = J^T a with a = N^-1 pinv(C) 1, |d*|^2 = a^T G a, and the update
    is J^T w with w = a (1^T G a) / (a^T G a).

    The pseudo-inverse of C is taken as IMTL's (singular values below RELATIVE_CONDITION of
    the largest are zero: the cosines carry the Gramian's float32 rounding). A task absent
    from the step gets weight 0 and leaves the others' problem; so does a present task
    with a zero gradient, which has no direction (TorchJD's nan_to_num of its unit row). A
    shrinking gradient keeps its direction, so the update changes continuously as it
    shrinks. Cost: a pseudo-inverse (SVD) of T×T. Under tf.distribute it sees only the
    global Gramian: exact.
    """

    description = ("ConFIG: equal projections on the unit gradients, the length of their sum "
                   "(Liu et al. 2025)")

    level = "gradient"

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian = gramian_lib.finite(gramian)
        present = gramian_lib.presence(present, gramian)
        return gramian_lib.to_weights(conflict_free_weights(gramian, present))


def conflict_free_weights(gramian, present):
    """ConFIG's w (float64 [T]) from a float64 Gramian (see the class docstring)."""
    kept, inverse_norms, cosines = gramian_lib.unit_cosines(gramian, present)
    ones = tf.cast(kept, tf.float64)
    direction = tf.linalg.matvec(tf.linalg.pinv(cosines, rcond=imtl.RELATIVE_CONDITION), ones)
    coefficients = direction * inverse_norms
    gramian_coefficients = tf.linalg.matvec(gramian, coefficients)
    squared_length = tf.tensordot(coefficients, gramian_coefficients, 1)
    projections = tf.reduce_sum(ones * gramian_coefficients)
    usable = squared_length > gramian_lib.TINY
    return tf.where(usable, coefficients * projections / tf.where(usable, squared_length, 1.0),
                    tf.zeros_like(coefficients))
