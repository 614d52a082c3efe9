"""The trimmed mean: per coordinate, the mean without the largest and smallest values
(Yin et al., 2018)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib


@base.METHODS.register("trimmed_mean")
class TrimmedMean(base.TaskGradientMethod):
    """Coordinate-wise trimmed mean of the task gradients: at each coordinate, the
    `trim_number` largest and `trim_number` smallest values are left out and the others
    averaged.

    Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates",
    ICML 2018 (TorchJD's `TrimmedMean`, which needs the trim number: the default here, 1,
    makes the update of three tasks their coordinate-wise median). Over the P tasks present
    in the step: an absent task's gradient is not known and is left out. With fewer than
    2 trim_number + 1 tasks present (where TorchJD refuses), it trims as many as leave one
    value, (P - 1) // 2 on each side: one task's gradient is the update, two tasks' their
    mean.

    The update has the scale of a mean gradient (that of `equal` divided by T). Cost: a
    sort of T values per coordinate, O(D T log T).
    """

    description = ("Trimmed mean: per coordinate, the mean without the extreme task gradients "
                   "(Yin et al. 2018)")

    HYPERPARAMETERS = {
        "trim_number": registry.Option(1, "values left out at each end of every coordinate",
                                       minimum=0, maximum=64, whole=True),
    }

    def combine(self, gradients, losses, step, present=None):
        del losses, step
        present = gramian_lib.presence(present, gradients)
        count = tf.reduce_sum(tf.cast(present, tf.int32))
        trim = tf.minimum(self.options["trim_number"], tf.maximum(count - 1, 0) // 2)
        # Absent tasks sort last, past the `count` values of the present ones.
        values = tf.where(present[:, None], gradients, tf.fill(tf.shape(gradients), float("inf")))
        ordered = tf.sort(values, axis=0)
        rank = tf.range(tf.shape(gradients)[0])[:, None]
        kept = (rank >= trim) & (rank < count - trim)
        total = tf.reduce_sum(tf.where(kept, ordered, tf.zeros_like(ordered)), axis=0)
        return total / tf.cast(tf.maximum(count - 2 * trim, 1), total.dtype), None
