"""PCGrad: project each task gradient off the gradients it conflicts with (Yu et al., 2020)."""

import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib


@base.METHODS.register("pcgrad")
class PCGrad(base.Method):
    """Gradient surgery: for each task i, its gradient is projected, in a random order of
    the other tasks j, onto the normal plane of each g_j it conflicts with; the update is
    the sum of the projected gradients.

    Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020, Algorithm 1: with
    p_i = g_i to start, for each j != i in a random order, if <p_i, g_j> < 0 then
    p_i <- p_i - <p_i, g_j> / |g_j|^2 g_j (projections onto the *original* g_j). Every p_i
    stays a combination p_i = sum_k C[i, k] g_k, so the algorithm runs on the coefficients:
    <p_i, g_j> = (C G)[i, j]. The weights are the column sums of C.

    The order is drawn per task and per step with stateless random ops from
    `random_seed(step)`: identical on every replica and after a resume.

    A task absent from the step has a zero gradient, which conflicts with none; its weight
    is 0. Cost: T rounds of a T×T by T×T product, O(T^3), no iteration. Weights sum to
    about T (the sum of the gradients when none conflict). Under tf.distribute it sees
    only the global Gramian: exact.
    """

    description = ("PCGrad: conflicting gradients projected on each other's normal planes "
                   "(Yu et al. 2020)")

    level = "gradient"

    def task_weights(self, gramian, losses, step, present=None):
        del losses
        gramian, _ = gramian_lib.prepare(gramian)
        order = random_orders(self.task_count, self.random_seed(step))
        weights = tf.reduce_sum(projection_coefficients(gramian, order), axis=0)
        return gramian_lib.to_weights(
            weights * tf.cast(gramian_lib.presence(present, gramian), tf.float64))


def random_orders(task_count, seed):
    """int32 [T, T]: row i is a random permutation of the tasks (task i's order)."""
    keys = tf.random.stateless_uniform([task_count, task_count], seed=seed)
    return tf.argsort(keys, axis=1)


def projection_coefficients(gramian, order):
    """C [T, T]: p_i = sum_k C[i, k] g_k after PCGrad's projections in `order`."""
    task_count = gramian.shape[0]
    squared_norms = tf.linalg.diag_part(gramian)
    coefficients = tf.eye(task_count, dtype=tf.float64)
    for position in range(task_count):
        other = order[:, position]  # the task each row projects off at this position
        other_one_hot = tf.one_hot(other, task_count, dtype=tf.float64)
        inner_products = tf.reduce_sum(
            tf.linalg.matmul(coefficients, gramian) * other_one_hot, axis=1)
        other_norms = tf.gather(squared_norms, other)
        conflicts = ((inner_products < 0.0) & (other_norms > gramian_lib.TINY)
                     & (other != tf.range(task_count, dtype=other.dtype)))
        step = tf.where(conflicts, inner_products / tf.maximum(other_norms, gramian_lib.TINY),
                        tf.zeros_like(inner_products))
        coefficients -= step[:, None] * other_one_hot
    return coefficients
