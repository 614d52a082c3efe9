"""IMTL: impartial multi-task learning, its gradient and loss parts (Liu et al., 2021)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Singular values of the (T+1)×(T+1) system below this fraction of the largest are treated
# as zero: the Gramian carries float32 rounding (about 1e-7 of each inner product), and a
# solve that trusted them would return weights of that noise's size.
RELATIVE_CONDITION = 1e-6


@base.METHODS.register("imtl")
class IMTL(base.Method):
    """IMTL-G: the update whose projections on every unit task gradient are equal; with
    IMTL-L (the default), each task's loss is first rescaled by a learned scale.

    Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021.

    IMTL-G: find w, sum_i w_i = 1, such that d = sum_j w_j g_j has <d, u_i> equal for all
    i, u_i = g_i / |g_i|. With n_i = |g_i| = sqrt(G_ii), the cosines C = N^-1 G N^-1 and
    d = sum_i v_i u_i (v = N w), the condition is C v = c 1 for some scalar c: the
    (T+1)×(T+1) linear system [[C, -1], [1^T, 0]] [v; c] = [0; 1], then w = N^-1 v,
    divided by its sum. With G invertible, w is proportional to G^{-1} n (the paper's
    closed form). The system is that of the unit gradients, whose conditioning does not
    depend on the gradients' norms: a task whose gradient is 1e-6 times the others' keeps
    its exact weight (the update shrinks with it continuously). The system stays solvable
    when C is singular (more tasks than gradient dimensions, exactly opposite gradients:
    then d = 0): it is solved by pseudo-inverse, which gives the minimum-norm v when
    gradients are parallel and any v works. A task absent from the step gets w_i = 0 and
    leaves the constraint; so does a present task with a zero gradient, which has no
    direction u_i (as with TorchJD's pseudo-inverse of G).

    IMTL-L (`loss_scales=1`): `transform` turns each loss L_i into e^{s_i} L_i - s_i with
    a trainable s_i (starting at 0), which the train step trains on the sum of the
    transformed losses: its minimum in s_i is at e^{s_i} L_i = 1, every task's scaled
    loss brought to 1. The Gramian the trainer then passes is that of the scaled losses. A
    task absent from the step keeps its loss (0) unscaled: its s_i stays put (e^s 0 - s would
    raise it at every step it is absent).
    `loss_scales=0` is IMTL-G alone.

    Cost: a pseudo-inverse (SVD) of a (T+1)×(T+1) matrix, O(T^3). Weights sum to 1 (the
    scale of a mean gradient). Under tf.distribute it sees only the global Gramian, and the
    loss scales are variables the train step updates like the model's: exact.
    """

    description = ("IMTL: gradients of equal projection on the update, learned loss scales"
                   " (Liu et al. 2021)")

    level = "gradient"
    HYPERPARAMETERS = {
        "loss_scales": registry.Option(1, "1: IMTL (IMTL-G with IMTL-L's learned loss scales), "
                                       "0: IMTL-G", choices=(0, 1)),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_scales = None

    def create_variables(self):
        if self.options["loss_scales"]:
            self.log_scales = self.add_weight(name="log_scales", shape=(self.task_count,),
                                              initializer="zeros", trainable=True)

    def transform(self, losses, present=None):
        """IMTL-L: e^s L - s per task (the losses unchanged with loss_scales=0); an absent
        task's loss unchanged, so that its scale stays where it is while it is absent."""
        if self.log_scales is None:
            return losses
        scaled = tf.exp(self.log_scales) * losses - self.log_scales
        return tf.where(gramian_lib.presence(present, losses), scaled, losses)

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian = gramian_lib.finite(gramian)
        present = gramian_lib.presence(present, gramian)
        return gramian_lib.to_weights(impartial_weights(gramian, present))


def impartial_weights(gramian, present):
    """IMTL-G's w (float64 [T]) from a float64 Gramian (see the class docstring)."""
    task_count = gramian.shape[0]
    kept, inverse_norms, cosines = gramian_lib.unit_cosines(gramian, present)
    kept_float = tf.cast(kept, tf.float64)
    # A task left out has a zero row and column and is left out of the sum: its v_i appears
    # nowhere, and the pseudo-inverse's minimum-norm solution gives it 0.
    top = tf.concat([cosines, -kept_float[:, None]], axis=1)
    bottom = tf.concat([kept_float, tf.zeros([1], tf.float64)], axis=0)[None, :]
    system = tf.concat([top, bottom], axis=0)
    right_side = tf.one_hot(task_count, task_count + 1, dtype=tf.float64)
    solution = tf.linalg.matvec(tf.linalg.pinv(system, rcond=RELATIVE_CONDITION), right_side)
    weights = solution[:task_count] * inverse_norms
    total = tf.reduce_sum(weights)
    # No w of sum 1 has equal projections (the weights for them sum to 0): none, as TorchJD.
    usable = tf.abs(total) > 1e-12 * tf.reduce_sum(tf.abs(weights))
    return tf.where(usable, weights / tf.where(usable, total, 1.0), tf.zeros_like(weights))
