"""GradDrop: keep, coordinate by coordinate, the gradients of one sign (Chen et al., 2020)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base


@base.METHODS.register("graddrop")
class GradDrop(base.TaskGradientMethod):
    """Gradient sign dropout: at each coordinate, a random draw keeps the positive task
    gradients or the negative ones, with the odds of the sign that dominates there.

    Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models with Gradient Sign
    Dropout", NeurIPS 2020, Algorithm 1 (lines 10-15; TorchJD's `GradDrop`): the positive
    sign purity P = (1 + sum_i g_i / sum_i |g_i|) / 2 per coordinate, U uniform on [0, 1)
    per coordinate, task i's mask M_i = [U < P] [g_i > 0] + [U >= P] [g_i < 0], and the
    update sum_i (leak + (1 - leak) M_i) g_i. (The tie U = P, of probability 0, keeps the
    negative gradients, so that a lone gradient is always kept whole.)

    Here, as TorchJD's, on the gradients of the shared variables; the paper's layer may
    also sit at an activation, with the purity summed over the batch of sign(input) times
    the gradient, which this train step does not offer: `rep_grad` is refused.

    Gradients that agree in sign at every coordinate are summed unchanged; an absent task's
    zero gradient changes nothing. U comes from `random_seed(step)`: the same on every
    replica and after a resume. Cost: O(T D) and D uniform draws.
    """

    description = "GradDrop: per coordinate, the gradients of one random sign (Chen et al. 2020)"

    HYPERPARAMETERS = {
        "leak": registry.Option(0.0, "the share of each gradient kept whatever its sign",
                                minimum=0.0, maximum=1.0),
    }

    def combine(self, gradients, losses, step, present=None):
        del losses, present  # an absent task's gradient is zero: it changes nothing
        purity = 0.5 * (1.0 + tf.math.divide_no_nan(tf.reduce_sum(gradients, axis=0),
                                                    tf.reduce_sum(tf.abs(gradients), axis=0)))
        uniform = tf.random.stateless_uniform(tf.shape(purity), seed=self.random_seed(step))
        positive = (uniform < purity)[None, :]
        keep = (positive & (gradients > 0)) | (tf.logical_not(positive) & (gradients < 0))
        leak = self.options["leak"]
        masks = leak + (1.0 - leak) * tf.cast(keep, gradients.dtype)
        return tf.reduce_sum(masks * gradients, axis=0), None
