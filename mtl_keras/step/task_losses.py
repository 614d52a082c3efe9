"""Per-task losses of a batch, exact over the replicas of a distribution strategy.

A task's loss is the mean of its per-example loss over the examples whose label is known
(sample weight, or mask, above 0), over the whole global batch. On each replica the train
step differentiates the replica's share of that mean: the sum over its own examples divided
by the count over all replicas. The replicas' gradients then add up to the gradient of
the global mean, however the known labels fall across the replicas (Keras' own losses
average each replica's mean instead, which differs when they hold different counts).
"""

import dataclasses

import keras
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class BatchLosses:
    """One batch's task losses, float32 vectors in the order of the tasks.

    Attributes:
      weighted_local: this replica's share of each task's loss times its loss weight
        (differentiable; the shares add up over the replicas).
      weighted_global: each task's loss times its loss weight, over the global batch
        (no gradient; the same on every replica).
      global_unweighted: each task's loss over the global batch, as the logs show it.
      global_counts: each task's number of known labels in the global batch.
    """

    weighted_local: tf.Tensor
    weighted_global: tf.Tensor
    global_unweighted: tf.Tensor
    global_counts: tf.Tensor


class TaskLosses:
    """The per-task loss functions and weights of a compiled model.

    Args:
      names: the task names, in the order of the loss vectors.
      loss: {task: loss} (a Keras loss object, a Keras loss name, or a function
        loss(y_true, y_pred) returning one value per example), or one loss for all.
      loss_weights: {task: weight}; a task not named weighs 1.

    Raises:
      ValueError: a task without a loss, or a loss or weight for a task the model lacks.
    """

    def __init__(self, names, loss, loss_weights=None):
        self.names = tuple(names)
        losses = loss if isinstance(loss, dict) else {name: loss for name in self.names}
        weights = dict(loss_weights or {})
        for what, given in (("loss", losses), ("loss_weights", weights)):
            unknown = sorted(set(given) - set(self.names))
            if unknown:
                raise ValueError(f"{what} names {', '.join(unknown)}, but the model's tasks are "
                                 f"{', '.join(self.names)}.")
        missing = [name for name in self.names if losses.get(name) is None]
        if missing:
            raise ValueError(f"No loss for task(s) {', '.join(missing)}: give compile() a loss "
                             f"for every output.")
        self.functions = {name: _per_example(losses[name]) for name in self.names}
        self.weights = tf.constant([float(weights.get(name, 1.0)) for name in self.names])

    def compute(self, y, y_pred, sample_weight=None):
        """The `BatchLosses` of a batch: labels, outputs and sample weights keyed by task."""
        sums, counts = [], []
        for name in self.names:
            values = self.functions[name](y[name], y_pred[name])
            values = tf.reshape(tf.cast(values, tf.float32), [tf.shape(values)[0], -1])
            values = tf.reduce_mean(values, axis=1)
            if sample_weight is not None and sample_weight.get(name) is not None:
                mask = tf.reshape(tf.cast(sample_weight[name], tf.float32), [-1])
                sums.append(tf.reduce_sum(values * mask))
                counts.append(tf.reduce_sum(mask))
            else:
                sums.append(tf.reduce_sum(values))
                counts.append(tf.cast(tf.shape(values)[0], tf.float32))
        sums, counts = tf.stack(sums), tf.stack(counts)
        global_counts, global_sums = all_sum([counts, tf.stop_gradient(sums)])
        unweighted = tf.math.divide_no_nan(global_sums, global_counts)
        return BatchLosses(weighted_local=self.weights * tf.math.divide_no_nan(sums, global_counts),
                           weighted_global=self.weights * unweighted,
                           global_unweighted=unweighted, global_counts=global_counts)


def sub_batch_weights(names, sample_weight, batch_size, samples):
    """The sample weights of the K = `samples` sub-batches of the global batch: a list of K
    {task: float32 [batch_size]}, each task's weights (1 where not given) times the
    indicator of the sub-batch on this replica.

    The global batch's examples, in order (the replicas' local batches one after the other,
    as a distribution strategy splits a batch), are cut into K contiguous parts: example i
    of N belongs to part floor(K i / N). Each replica finds its examples' global positions
    from the local batch sizes summed over the replicas, so that the sub-batches are the
    same on any number of replicas. A global batch of fewer than K examples gives every
    part the whole batch.
    """
    strategy = tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    context = tf.distribute.get_replica_context()
    replica = 0 if context is None else context.replica_id_in_sync_group
    one_hot = tf.one_hot(replica, replicas, dtype=tf.float32)
    sizes = tf.cast(all_sum(one_hot * tf.cast(batch_size, tf.float32)), tf.int64)
    earlier = tf.range(replicas, dtype=tf.int64) < tf.cast(replica, tf.int64)
    offset = tf.reduce_sum(tf.where(earlier, sizes, tf.zeros_like(sizes)))
    total = tf.reduce_sum(sizes)
    positions = offset + tf.range(tf.cast(batch_size, tf.int64), dtype=tf.int64)
    parts = (samples * positions) // tf.maximum(total, 1)
    given = {}
    for name in names:
        weights = None if sample_weight is None else sample_weight.get(name)
        given[name] = (tf.ones([batch_size]) if weights is None
                       else tf.reshape(tf.cast(weights, tf.float32), [-1]))
    result = []
    for part in range(samples):
        indicator = tf.cast((parts == part) | (total < samples), tf.float32)
        result.append({name: weights * indicator for name, weights in given.items()})
    return result


def all_sum(values):
    """`values` summed over the replicas in sync (unchanged with a single replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return values
    return context.all_reduce(tf.distribute.ReduceOp.SUM, values)


def _per_example(loss):
    """A function (y_true, y_pred) → per-example losses for a Keras loss object, a Keras
    loss name or a plain function."""
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        def function(y_true, y_pred):
            # Loss.call is the unreduced loss; Loss.__call__ would also average it.
            return loss.call(tf.cast(y_true, loss.dtype), tf.cast(y_pred, loss.dtype))
        return function
    if not callable(loss):
        raise ValueError(f"A loss must be a Keras loss, its name or a function, not {loss!r}.")

    def wrapped(y_true, y_pred):
        y_true, y_pred = tf.cast(y_true, tf.float32), tf.cast(y_pred, tf.float32)
        # As Keras' compile() does for functions: labels (N,) for outputs (N, 1) gain the axis.
        if y_true.shape.rank == y_pred.shape.rank - 1 and y_pred.shape[-1] == 1:
            y_true = tf.expand_dims(y_true, -1)
        return loss(y_true, y_pred)
    return wrapped
