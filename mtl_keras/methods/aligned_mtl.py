"""Aligned-MTL: the task gradients aligned to orthogonal directions (Senushkin et al., 2023)."""

import tensorflow as tf

from mtl_keras.methods import base
from mtl_keras.methods import gramian as gramian_lib

# Eigenvalues below max * T * this are zero (the rank test of the paper's code, with the
# float32 epsilon of the Gramian the trainer computes).
RANK_EPSILON = 2.0**-23


@base.METHODS.register("aligned_mtl")
class AlignedMTL(base.Method):
    """The gradient matrix J (T×D, rows g_i) replaced by sigma_min U V^T, J = U Sigma V^T
    its SVD: the tasks' components along the principal directions made equal (condition
    number 1), at the scale of the smallest singular value; the update is its rows' sum.

    Senushkin et al., "Independent Component Alignment for Multi-Task Learning", CVPR
    2023, with the paper's default scale (the smallest singular value). From the Gramian:
    G = J J^T = U Lambda U^T (tf.linalg.eigh), Lambda = Sigma^2, and
    sigma_min U V^T = sqrt(lambda_min) U Lambda^{-1/2} U^T J, so the weights are
    w = sqrt(lambda_min) U Lambda^{-1/2} U^T 1 over the eigenvalues above the rank
    threshold (lambda > lambda_max * T * float32 eps, the paper's code). A task with a zero
    gradient (among them the tasks absent from the step) has a zero row in G, hence in
    every kept eigenvector: weight 0. A zero Gramian gives zero weights.

    Note the method's discontinuity, inherited from the paper: two nearly parallel
    gradients give a tiny lambda_min and a near-zero update, exactly parallel ones (rank
    1) a full-size one.

    Cost: one T×T symmetric eigendecomposition, O(T^3). Under tf.distribute it sees only
    the global Gramian: exact.
    """

    description = ("Aligned-MTL: the gradients aligned to a well-conditioned matrix "
                   "(Senushkin et al. 2023)")

    level = "gradient"

    def task_weights(self, gramian, losses, step, present=None):
        del losses, step
        gramian, _ = gramian_lib.prepare(gramian)
        eigenvalues, eigenvectors = tf.linalg.eigh(gramian)
        task_count = gramian.shape[0]
        threshold = tf.reduce_max(eigenvalues) * task_count * RANK_EPSILON
        kept = eigenvalues > tf.maximum(threshold, gramian_lib.TINY)
        smallest = tf.reduce_min(tf.where(kept, eigenvalues,
                                          tf.constant(float("inf"), tf.float64)))
        smallest = tf.where(tf.reduce_any(kept), smallest, tf.zeros_like(smallest))
        inverse_roots = tf.where(kept, tf.math.rsqrt(tf.maximum(eigenvalues, gramian_lib.TINY)),
                                 tf.zeros_like(eigenvalues))
        along = tf.linalg.matvec(eigenvectors, tf.ones([task_count], tf.float64),
                                 transpose_a=True)
        weights = tf.sqrt(smallest) * tf.linalg.matvec(eigenvectors, inverse_roots * along)
        # Exactly 0 for an absent task (eigh's vectors carry rounding in its zero row).
        present = tf.cast(gramian_lib.presence(present, gramian), tf.float64)
        return gramian_lib.to_weights(weights * present)
