"""The arithmetic of the train step: gradients with zeros for unused sources, a loss-level
transform's derivatives, and the Gramian of the task gradients over the replicas."""

import tensorflow as tf

from mtl_keras.step import task_losses


def gradients_or_zeros(tape, target, sources):
    """tape.gradient with zeros (not None) for sources the target does not depend on."""
    gradients = tape.gradient(target, sources) if sources else []
    return [tf.zeros(source.shape, source.dtype) if gradient is None else gradient
            for source, gradient in zip(sources, gradients)]


def transformed_losses(method, global_losses, present):
    """(d transform_t / d loss_t, the transformed global losses, the gradients of their sum
    with respect to the method's trainable variables); `present`: boolean [T], the tasks
    with a known label in the global batch."""
    with tf.GradientTape() as inner:
        inner.watch(global_losses)
        transformed = method.transform(global_losses, present=present)
        total = tf.reduce_sum(transformed)
    scales, *method_gradients = gradients_or_zeros(inner, total,
                                                  [global_losses, *method.trainable_variables])
    return tf.stop_gradient(scales), tf.stop_gradient(transformed), method_gradients


def task_gramian(task_gradients, summed_later):
    """The T×T Gramian of the task gradients of the global batch.

    `task_gradients[t]` is task t's gradient on this replica, a list of tensors. Whole-model
    gradients (`summed_later`: the replicas' gradients add up to the global one) are summed
    over the replicas before their inner products; representation gradients, whose rows
    are this replica's own examples, give inner products that add up across replicas.
    """
    if summed_later:
        task_gradients = task_losses.all_sum(task_gradients)
    flat = flatten(task_gradients)
    gramian = tf.matmul(flat, flat, transpose_b=True)
    return gramian if summed_later else task_losses.all_sum(gramian)


def flatten(task_gradients):
    """float32 [T, D]: row t is task t's gradient (a list of tensors) flattened; D = 0 when
    no variable is shared (a single task)."""
    return tf.stack([tf.concat([tf.reshape(tf.cast(g, tf.float32), [-1]) for g in gradients]
                               + [tf.zeros([0])], 0)
                     for gradients in task_gradients])


def whole_batch_gradients(sampled, counts):
    """float32 [T, D]: the global batch's task gradients from its K sub-batches', each task's
    weighted by its share of the task's known labels (a task's loss on the batch is the
    mean of its sub-batches' losses, weighted so).

    Args:
      sampled: float32 [K, T, D], the sub-batches' task gradients.
      counts: float32 [K, T], their global counts of known labels.
    """
    shares = tf.math.divide_no_nan(counts, tf.reduce_sum(counts, axis=0, keepdims=True))
    return tf.einsum("kt,ktd->td", shares, sampled)


def unflatten(vector, variables):
    """`vector` [D] cut into tensors of the shapes (and dtypes) of `variables`."""
    sizes = [size(variable) for variable in variables]
    pieces = tf.split(vector, sizes) if variables else []
    return [tf.cast(tf.reshape(piece, variable.shape), variable.dtype)
            for piece, variable in zip(pieces, variables)]


def size(variable):
    """The number of entries of `variable` (its shape is fully known)."""
    count = 1
    for dimension in variable.shape:
        count *= int(dimension)
    return count
