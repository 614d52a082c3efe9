"""Smooth Tchebycheff scalarization (STCH).

Lin, Zhang, Yang, Zhang and Yuan, "Smooth Tchebycheff Scalarization for Multi-Objective
Optimization", ICML 2024.
"""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Added to a loss inside its logarithm: a present task's loss may be 0.
_EPSILON = 1e-8


@base.METHODS.register("stch")
class SmoothTchebycheff(base.Method):
    """The smooth maximum of the log losses relative to a nadir point:
    mu T log sum_t exp(log(L_t / z_t) / mu), so task t weighs T s_t / L_t with
    s = softmax(log(L / z) / mu): the task farthest above its nadir z_t dominates (the
    Tchebycheff scalarization as mu -> 0), and with mu = 1, s_t / L_t = 1 / (z_t sum_j
    L_j / z_j), a task's weight no longer grows as its loss falls.

    As LibMTL (after the paper's code): for the first `warmup_epochs` epochs and the one
    after them the objective is sum_t log L_t (weights 1 / L_t); the nadir z_t is the mean
    of task t's losses over that last warm-up epoch, fixed from then on. A loss inside a
    logarithm is L_t + 1e-8 (LibMTL: 1e-20, which float32 drops): a present task may have
    a loss of 0, whose weight stays finite.

    A task absent from the step (no known label in the global batch) weighs 0 and the
    others are weighed as STCH of the P tasks present (P instead of T); it adds nothing
    to its nadir. A task absent throughout the last warm-up epoch takes its nadir from
    the losses of the first step it is present in. The nadir's sums are the method's
    state (the same on every replica, resumed with the run). Cost: O(T) per step.
    """

    description = ("STCH: the smooth Tchebycheff maximum of the log losses over a nadir "
                   "point (Lin et al. 2024)")

    HYPERPARAMETERS = {
        "mu": registry.Option(1.0, "smoothing of the maximum (LibMTL's STCH_mu)", minimum=1e-3,
                              maximum=1e3),
        "warmup_epochs": registry.Option(4, "epochs of log losses before the nadir point's "
                                         "epoch (LibMTL's STCH_warmup_epoch)", minimum=0,
                                         maximum=1000, whole=True),
    }

    def create_variables(self):
        self.nadir_sum = self.state_variable("nadir_sum", (self.task_count,))
        self.nadir_count = self.state_variable("nadir_count", (self.task_count,))

    def objective(self, losses, step, present=None):
        present = gramian_lib.presence(present, losses)
        present_float = tf.cast(present, tf.float32)
        epoch = tf.cast(step, tf.int64) // self.steps_per_epoch
        warmup = self.options["warmup_epochs"]
        # The last warm-up epoch, or a task never yet seen at all, adds to the nadir.
        recording = present & ((epoch == warmup) | ((epoch > warmup) & (self.nadir_count == 0)))
        self.nadir_sum.assign_add(tf.where(recording, tf.stop_gradient(losses), 0.0))
        self.nadir_count.assign_add(tf.cast(recording, tf.float32))
        logs = tf.math.log(losses + _EPSILON)
        warming = tf.reduce_sum(logs * present_float)
        nadir = self.nadir_sum / tf.maximum(self.nadir_count, 1.0)
        relative = tf.math.log(losses / tf.maximum(nadir, _EPSILON) + _EPSILON)
        mu = self.options["mu"]
        # The maximum subtracted first (no gradient through it), as LibMTL, for exp; an
        # absent task's term is 0.
        scaled = relative / mu
        largest = tf.stop_gradient(tf.reduce_max(tf.where(present, scaled, tf.float32.min)))
        exponentials = tf.exp(tf.where(present, scaled - largest, 0.0)) * present_float
        smooth = mu * (tf.math.log(tf.reduce_sum(exponentials) + 1e-30) + largest)
        stch = tf.where(tf.reduce_any(present), smooth * tf.reduce_sum(present_float), 0.0)
        return tf.where(epoch > warmup, stch, warming)

