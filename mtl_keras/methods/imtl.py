"""IMTL: impartial multi-task learning, its gradient and loss parts (Liu et al., 2021)."""

import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Singular values of the (T+1)×(T+1) system below this fraction of the largest are treated
# as zero: the Gramian carries float32 rounding (about 1e-7), and a solve that trusted them
# would return weights of that noise's size.
RELATIVE_CONDITION = 1e-6


@base.METHODS.register("imtl")
class IMTL(base.Method):
    """IMTL-G: the update whose projections on every unit task gradient are equal; with
    IMTL-L (the default), each task's loss is first rescaled by a learned scale.

    Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021.

    IMTL-G: find w, sum_i w_i = 1, such that d = sum_j w_j g_j has <d, u_i> equal for all
    i, u_i = g_i / |g_i|. Since <d, g_i> = (G w)_i, this is G w = c n for some scalar c,
    with n_i = |g_i| = sqrt(G_ii): the (T+1)×(T+1) linear system [[G, -n], [1^T, 0]]
    [w; c] = [0; 1]. With G invertible, w is proportional to G^{-1} n (the paper's closed
    form). The system stays solvable when G is singular (more tasks than gradient
    dimensions, exactly opposite gradients: then d = 0): it is solved by pseudo-inverse,
    which gives the minimum-norm w when gradients are parallel and any w works. A task
    whose gradient is zero (absent from the step) gets w_i = 0 and leaves the constraint.

    IMTL-L (`loss_scales=1`): `transform` turns each loss L_i into e^{s_i} L_i - s_i with
    a trainable s_i (starting at 0), which the train step trains on the sum of the
    transformed losses: its minimum in s_i is at e^{s_i} L_i = 1, every task's scaled
    loss brought to 1. The Gramian the trainer then passes is that of the scaled losses.
    `loss_scales=0` is IMTL-G alone.

    Cost: a pseudo-inverse (SVD) of a (T+1)×(T+1) matrix, O(T^3). Weights sum to 1 (the
    scale of a mean gradient). Under tf.distribute it sees only the global Gramian, and the
    loss scales are variables the train step updates like the model's: exact.
    """

    level = "gradient"
    HYPERPARAMETERS = {
        "loss_scales": (1, "1: IMTL (IMTL-G with IMTL-L's learned loss scales), 0: IMTL-G",
                        (0, 1)),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_scales = None

    def create_variables(self):
        if self.options["loss_scales"]:
            self.log_scales = self.add_weight(name="log_scales", shape=(self.task_count,),
                                              initializer="zeros", trainable=True)

    def transform(self, losses):
        """IMTL-L: e^s L - s per task (the losses unchanged with loss_scales=0)."""
        if self.log_scales is None:
            return losses
        return tf.exp(self.log_scales) * losses - self.log_scales

    def task_weights(self, gramian, losses, step):
        del losses, step
        gramian, _ = gramian_lib.prepare(gramian)
        return gramian_lib.to_weights(impartial_weights(gramian))


def impartial_weights(gramian):
    """IMTL-G's w (float64 [T]) from a normalised Gramian (see the class docstring)."""
    task_count = gramian.shape[0]
    present = gramian_lib.present_tasks(gramian)
    present_float = tf.cast(present, tf.float64)
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gramian), 0.0)) * present_float
    top = tf.concat([gramian, -norms[:, None]], axis=1)
    # An absent task's row and column are zero and it is left out of the sum: its weight
    # appears nowhere, and the pseudo-inverse's minimum-norm solution gives it 0.
    bottom = tf.concat([present_float, tf.zeros([1], tf.float64)], axis=0)[None, :]
    system = tf.concat([top, bottom], axis=0)
    right_side = tf.one_hot(task_count, task_count + 1, dtype=tf.float64)
    solution = tf.linalg.matvec(tf.linalg.pinv(system, rcond=RELATIVE_CONDITION), right_side)
    return solution[:task_count] * present_float
