"""The three levels of the multi-task train step; `model.MultiTaskModel.train_step` calls
the one that its method's `level` names:

- `loss_level`: the method turns the loss vector into one scalar (`objective`);
- `gradient_level`: the method gets the Gramian of the task gradients with respect to the
  shared variables (or, with `rep_grad`, to the shared representation the heads read) and
  returns one weight per task: the shared variables move along sum_t w_t g_t, each head
  along the gradient of its own loss;
- `task_gradient_level`: the method gets the task gradients themselves over the shared
  variables (summed over the replicas, flattened to T×D) and returns the shared variables'
  update; one that needs K independent samples (`samples = K`) gets K×T×D, the task
  gradients of K contiguous sub-batches of the global batch
  (`task_losses.sub_batch_weights`).

Each takes the compiled model (its method, task losses, variable split, trackers and
optimizer) and one batch, applies the update and returns (outputs, the batch's
`task_losses.BatchLosses`).
"""

import keras
import tensorflow as tf

from mtl_keras.step import gradients as step_math
from mtl_keras.step import task_losses


def loss_level(model, x, y, sample_weight):
    """Forward, the method's scalar, one backward pass."""
    method = model._method
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        losses = model._task_losses.compute(y, y_pred, sample_weight)
        with tf.GradientTape() as inner:
            global_losses = tf.stop_gradient(losses.weighted_global)
            inner.watch(global_losses)
            # Present: a known label in the global batch (counts summed over replicas).
            objective = method.objective(global_losses, model.optimizer.iterations,
                                         present=losses.global_counts > 0)
        weights, *method_gradients = step_math.gradients_or_zeros(
            inner, objective, [global_losses, *method.trainable_variables])
        total = tf.reduce_sum(tf.stop_gradient(weights) * losses.weighted_local)
        scaled = model.optimizer.scale_loss(total + _layer_losses(model))
    model_variables = model._parts.model_variables
    gradients = step_math.gradients_or_zeros(tape, scaled, model_variables)
    _apply(model, gradients, model_variables, method_gradients)
    model._trackers.update_weights(weights, losses.global_counts)
    return y_pred, losses


def gradient_level(model, x, y, sample_weight):
    """Forward, one backward pass per task to the shared variables (or representation),
    the method's weights from the global Gramian, then the combined update."""
    method, parts = model._method, model._parts
    step = model.optimizer.iterations
    with tf.GradientTape(persistent=True) as tape:
        if model.rep_grad:
            representation = keras.tree.flatten(parts.encoder(x, training=True))
            # The heads' side starts from leaves of its own: when one representation
            # tensor is computed from another (MTAN's stage outputs), a task's gradient
            # at the first would otherwise include its path through the second, which
            # the backward pass through the encoder adds once more.
            leaves = [tf.stop_gradient(tensor) for tensor in representation]
            for leaf in leaves:
                tape.watch(leaf)
            y_pred = parts.decoder(leaves, training=True)
        else:
            y_pred = model(x, training=True)
        losses = model._task_losses.compute(y, y_pred, sample_weight)
        scale = model.optimizer.scale_loss(tf.constant(1.0))
        scaled = losses.weighted_local * scale
        per_task = tf.unstack(scaled)
        scales, transformed, transform_gradients = step_math.transformed_losses(
            method, losses.weighted_global, losses.global_counts > 0)
        private_target = tf.reduce_sum(scaled * scales)
        layer_losses = _layer_losses(model) * scale
    targets = leaves if model.rep_grad else parts.shared_variables
    task_gradients = [step_math.gradients_or_zeros(tape, loss, targets) for loss in per_task]
    gramian = step_math.task_gramian(task_gradients, summed_later=not model.rep_grad)
    gramian = gramian / tf.square(scale)
    gramian = gramian * scales[:, None] * scales[None, :]
    # A task is absent when the global batch has no known label for it, never because
    # its gradient is small; the counts are summed over the replicas.
    present = losses.global_counts > 0
    weights, auxiliary_gradients = _method_weights(method, gramian, transformed, step, present)
    coefficients = weights * scales
    # Representation gradients are 16-bit under mixed precision; so is their combination.
    combined = [tf.add_n([tf.cast(c, g[i].dtype) * g[i]
                          for c, g in zip(tf.unstack(coefficients), task_gradients)])
                for i in range(len(targets))]
    if model.rep_grad:
        shared_variables = parts.encoder_variables
        shared = tape.gradient(representation, shared_variables,
                               output_gradients=combined)
    else:
        shared_variables, shared = parts.shared_variables, combined
    private = step_math.gradients_or_zeros(tape, private_target, parts.private_variables)
    # The model's own losses (regularizers) are no task's: added to the update as is.
    updated = [*shared_variables, *parts.private_variables]
    regularization = step_math.gradients_or_zeros(tape, layer_losses, updated)
    del tape
    method_gradients = [a + b for a, b in zip(transform_gradients, auxiliary_gradients)]
    _apply(model, [a + b for a, b in zip([*shared, *private], regularization)], updated,
                method_gradients)
    model._trackers.update_weights(coefficients, losses.global_counts)
    model._trackers.update_gradients(gramian, losses.global_counts)
    return y_pred, losses


def task_gradient_level(model, x, y, sample_weight):
    """Forward, one backward pass per task (per task and sub-batch, for a method that
    needs K independent samples) to the shared variables, the task gradients summed
    over the replicas, and the method's update of the shared variables."""
    method, parts = model._method, model._parts
    with tf.GradientTape(persistent=True) as tape:
        y_pred = model(x, training=True)
        losses = model._task_losses.compute(y, y_pred, sample_weight)
        scale = model.optimizer.scale_loss(tf.constant(1.0))
        scaled = losses.weighted_local * scale
        private_target = tf.reduce_sum(scaled)
        layer_losses = _layer_losses(model) * scale
        if method.samples == 1:
            sample_losses = [losses]
        else:  # one forward pass; each sub-batch's losses from its examples
            batch_size = tf.shape(y_pred[model.task_names[0]])[0]
            sample_losses = [model._task_losses.compute(y, y_pred, weights)
                             for weights in task_losses.sub_batch_weights(
                                 model.task_names, sample_weight, batch_size,
                                 method.samples)]
        per_sample = [tf.unstack(sample.weighted_local * scale) for sample in sample_losses]
    shared_variables = parts.shared_variables
    task_gradients = [[step_math.gradients_or_zeros(tape, loss, shared_variables)
                       for loss in per_task] for per_task in per_sample]
    private = step_math.gradients_or_zeros(tape, private_target, parts.private_variables)
    updated = [*shared_variables, *parts.private_variables]
    regularization = step_math.gradients_or_zeros(tape, layer_losses, updated)
    del tape
    sampled = tf.stack([step_math.flatten(sample)
                        for sample in task_losses.all_sum(task_gradients)]) / scale
    if method.samples == 1:
        gradients = whole = sampled[0]
    else:
        gradients = sampled
        whole = step_math.whole_batch_gradients(
            sampled, tf.stack([sample.global_counts for sample in sample_losses]))
    if method.task_count == 1:  # as at the gradient level: the task's own gradient
        update, weights = whole[0], tf.ones([1])
    else:
        update, weights = method.combine(gradients, losses.weighted_global,
                                         model.optimizer.iterations,
                                         present=losses.global_counts > 0)
    # Every replica holds the global update, and the optimizer sums the replicas'.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    shared = step_math.unflatten(tf.stop_gradient(update) * scale / replicas,
                                 shared_variables)
    _apply(model, [a + b for a, b in zip([*shared, *private], regularization)], updated, [])
    if weights is not None:
        model._trackers.update_weights(weights, losses.global_counts)
    model._trackers.update_gradients(tf.matmul(whole, whole, transpose_b=True),
                                    losses.global_counts)
    return y_pred, losses


def _layer_losses(model):
    """This replica's share of the model's own losses (its layers' regularizers and
    `add_loss` terms), so that their sum over the replicas is theirs: a float32 scalar,
    0 when there are none."""
    own = [tf.cast(loss, tf.float32) for loss in model.losses]
    if not own:
        return tf.constant(0.0)
    return tf.add_n(own) / tf.distribute.get_strategy().num_replicas_in_sync


def _apply(model, gradients, variables, method_gradients):
    """Applies the model's gradients and the method's (the same on every replica: each
    replica's share, so that the optimizer's sum over replicas is the method's own)."""
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    scale = model.optimizer.scale_loss(tf.constant(1.0))
    method_variables = list(model._method.trainable_variables)
    method_gradients = [g * scale / replicas for g in method_gradients]
    model.optimizer.apply([*gradients, *method_gradients], [*variables, *method_variables])


def _method_weights(method, gramian, losses, step, present):
    """(the method's task weights, the gradients of its auxiliary loss with respect to its
    trainable variables). With one task every gradient method's update is the task's
    gradient itself: weight 1, whatever the method (its Gramian may be empty, the task
    sharing no variable with another)."""
    if method.task_count == 1:
        return tf.ones([1]), [tf.zeros_like(v) for v in method.trainable_variables]
    with tf.GradientTape() as inner:
        weights = tf.stop_gradient(method.task_weights(gramian, losses, step, present=present))
        auxiliary = method.auxiliary_loss(gramian, losses, step, present=present)
    return weights, step_math.gradients_or_zeros(inner, auxiliary, method.trainable_variables)
