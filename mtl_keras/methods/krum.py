"""Krum: the task gradients closest to the others (Blanchard et al., 2017)."""

import tensorflow as tf

from mtl_keras import registry
from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib


@base.METHODS.register("krum")
class Krum(base.Method):
    """(Multi-)Krum: each task gradient is scored by the sum of its squared distances to
    its P - f - 2 nearest others (P tasks present, f = `n_byzantine`); the update is the
    mean of the `n_selected` best-scored gradients.

    Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
    Descent", NeurIPS 2017 (Multi-Krum with m = n_selected; as TorchJD's `Krum`, which needs
    f, but with the paper's squared distances where TorchJD sums the distances). The
    distances |g_i - g_j|^2 = G_ii + G_jj - 2 G_ij are the Gramian's: the method is
    a weighting of the Gramian, with weight 1/m on the selected tasks, so it takes
    `rep_grad` and is exact under tf.distribute. An absent task is neither scored nor
    counted among the others. With fewer than f + 3 tasks present (where the score has no
    neighbour and TorchJD refuses) the update is the mean of the present gradients (one
    task's: its gradient); with fewer than m, all are selected. Ties go to the first task.

    The update has the scale of a mean gradient. Cost: a sort of T distances per task.
    """

    description = "Krum: the mean of the gradients closest to the others (Blanchard et al. 2017)"

    level = "gradient"
    HYPERPARAMETERS = {
        "n_byzantine": registry.Option(0, "f, the number of task gradients that may be outliers",
                                       minimum=0, maximum=64, whole=True),
        "n_selected": registry.Option(1, "m, the number of gradients averaged (Multi-Krum)",
                                      minimum=1, maximum=64, whole=True),
    }

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian, _ = gramian_lib.prepare(gramian)
        present = gramian_lib.presence(present, gramian)
        count = tf.reduce_sum(tf.cast(present, tf.int32))
        neighbours = count - self.options["n_byzantine"] - 2
        # Too few tasks for a score: every present task is selected (the mean).
        selected_count = tf.where(neighbours >= 1, tf.minimum(self.options["n_selected"], count),
                                  count)
        scores = krum_scores(gramian, present, neighbours)
        infinity = tf.constant(float("inf"), tf.float64)
        order = tf.argsort(tf.where(present, scores, infinity), stable=True)
        ranks = tf.math.invert_permutation(order)
        selected = present & (ranks < selected_count)
        weights = tf.cast(selected, tf.float64) / tf.cast(tf.maximum(selected_count, 1),
                                                          tf.float64)
        return gramian_lib.to_weights(weights)


def krum_scores(gramian, present, neighbours):
    """float64 [T]: each task's sum of squared distances to its `neighbours` nearest present
    others."""
    norms = tf.linalg.diag_part(gramian)
    distances = tf.maximum(norms[:, None] + norms[None, :] - 2.0 * gramian, 0.0)
    task_count = gramian.shape[0]
    others = present[None, :] & present[:, None] & tf.logical_not(
        tf.eye(task_count, dtype=tf.bool))
    infinity = tf.constant(float("inf"), tf.float64)
    nearest = tf.sort(tf.where(others, distances, infinity), axis=1)
    within = tf.range(task_count)[None, :] < neighbours
    return tf.reduce_sum(tf.where(within, nearest, tf.zeros_like(nearest)), axis=1)
