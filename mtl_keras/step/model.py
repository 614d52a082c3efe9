"""The multi-task model: a Functional model whose train step hands per-task losses to a method.

`MultiTaskModel` keeps Keras' Functional API (it is built from inputs and a dict of outputs
keyed by task name) and overrides `train_step` and `test_step`, as in the Keras guide
"customizing what happens in fit". A step computes each task's loss (its mean over the
examples whose label is known, over the whole global batch) and then lets the compiled
method (`mtl_keras.methods`) decide the update:

- a loss-level method turns the loss vector into one scalar (`losses.objective`);
- a gradient-level method gets the Gramian of the task gradients with respect to the shared
  variables (or, with `rep_grad`, to the shared representation the heads read) and returns
  one weight per task: the shared variables move along sum_t w_t g_t, each head along the
  gradient of its own loss;
- a task-gradient method gets the task gradients themselves over the shared variables
  (summed over the replicas, flattened to T×D) and returns the shared variables' update;
  one that needs K independent samples (`samples = K`) gets K×T×D, the task gradients of K
  contiguous sub-batches of the global batch (`task_losses.sub_batch_weights`).

Exact under tf.distribute: every replica holds a slice of the global batch. A task's loss on
a replica is its share of the global mean (the sum of its known examples' losses divided by
the count of known labels over all replicas), so that the optimizer's sum of the replicas'
gradients is the global batch's gradient. The methods see global values only: the losses
summed over the replicas, and the Gramian of the task gradients summed over the replicas
(for whole-model gradients, the task gradients are all-reduced first, since the Gramian of
a sum is not the sum of the Gramians; for representation gradients, each replica's rows of
the representation are its own examples', so the replicas' Gramians add up). A method's
weights are therefore the same on every replica, whatever the number of replicas.
"""

import keras
import tensorflow as tf

from mtl_keras import methods as methods_lib
from mtl_keras.heads import descriptions as head_descriptions
from mtl_keras.heads import losses
from mtl_keras.step import sharing
from mtl_keras.step import logs as step_logs
from mtl_keras.step import gradients as step_math
from mtl_keras.step import task_losses


@keras.saving.register_keras_serializable(package="mtl_keras")
class MultiTaskModel(keras.Model):
    """A Functional model with outputs keyed by task name and a multi-task train step.

    Build it like any Functional model, `MultiTaskModel(inputs, {task: output})`, optionally
    declare the shared representation with `set_representation`, then `compile` it with
    per-task dicts and a `weighting` method. A saved model loads compiled with the same
    losses, weights and method (whose state is saved with it).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._representation = ()
        self._task_layers = {}
        self._method = None

    # Building.
    def set_representation(self, tensors):
        """Declares the Keras tensors that every head reads (the trunk's output), which
        `rep_grad` differentiates the task losses with respect to."""
        _untracked(self, "_representation", tuple(keras.tree.flatten(tensors)))

    def set_task_layers(self, task_layers):
        """Declares layers that belong to one task whatever the graph says.

        The split into shared and per-task variables follows the graph: a variable that
        only one task's output depends on is that task's own. An architecture whose tasks
        read each other's layers (a cross-stitch column mixes into the other tasks'
        columns; PLE's task experts feed its shared experts) declares here, by layer name,
        the layers it means to be one task's: their variables are that task's, get the
        gradient of the summed losses, and are left out of the methods' Gramian. Saved
        with the model.

        Args:
          task_layers: {task name: layer names}.

        Raises:
          ValueError: an unknown task or layer, or a layer declared for two tasks.
        """
        owners = {}
        for task, names in task_layers.items():
            if task not in self.task_names:
                raise ValueError(f"set_task_layers: no task {task!r} in {self.task_names}.")
            for name in names:
                self.get_layer(name)  # raises ValueError for an unknown layer
                if owners.setdefault(name, task) != task:
                    raise ValueError(f"set_task_layers: layer {name!r} declared for tasks "
                                     f"{owners[name]!r} and {task!r}.")
        _untracked(self, "_task_layers",
                   {task: tuple(names) for task, names in task_layers.items()})

    def get_config(self):
        # The declared layers and the representation (by the layers that output it) are
        # saved too: a loaded model splits its variables, and compiles with rep_grad, as
        # the saved one did.
        config = super().get_config()
        if self._task_layers:
            config["task_layers"] = {task: list(names) for task, names in self._task_layers.items()}
        references = [_reference(tensor) for tensor in self._representation]
        if references and None not in references:
            config["representation"] = references
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        task_layers = config.pop("task_layers", None)
        references = config.pop("representation", None)
        model = super().from_config(config, custom_objects=custom_objects)
        if task_layers:
            model.set_task_layers(task_layers)
        if references:
            model.set_representation([model.get_layer(name)._inbound_nodes[0]  # noqa: SLF001
                                      .output_tensors[index] for name, index in references])
        return model

    def variable_owners(self):
        """{id(variable): set of the task names it belongs to}: by the graph (the tasks
        whose output depends on it), then the layers declared by `set_task_layers`."""
        owners = sharing.graph_owners(self)
        for task, names in self._task_layers.items():
            for name in names:
                for variable in self.get_layer(name).trainable_variables:
                    owners[id(variable)] = {task}
        return owners

    @property
    def task_names(self):
        """The tasks: the keys of the model's dict of outputs, in their order."""
        return tuple(self.output_dict())

    def output_dict(self):
        """{task name: output Keras tensor}."""
        if isinstance(self._outputs_struct, dict):
            return dict(self._outputs_struct)
        return dict(zip(self.output_names, self.outputs))  # a single output, or a list

    @property
    def weighting_method(self):
        """The compiled `methods.base.Method`, or None before `compile`."""
        return self._method

    def compile(self, optimizer="sgd", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, weighting="equal", rep_grad=False, **kwargs):
        """Configures training, with dicts keyed by task name.

        Missing labels arrive as Keras sample weights: `fit(x, y, sample_weight={task:
        weights})` (or a dataset of (x, y, sample_weight)), 0 where a task's label is
        unknown. A task's loss is its mean over the examples whose weight is above 0.

        Args:
          optimizer: a Keras optimizer or its name.
          loss: {task: loss}: a Keras loss object, a registered Keras loss name, or a
            function loss(y_true, y_pred) returning one value per example; one loss for
            every task is also accepted. Default, for a model of `build_model`: each
            head's own loss (its kind's default).
          loss_weights: {task: weight} multiplying each task's loss before the method
            sees it (default 1).
          metrics, weighted_metrics: as for `keras.Model.compile` ({task: [metrics]}),
            except that the sample weights apply to `metrics` too when no
            `weighted_metrics` are given: a metric counts the examples whose label is
            known. Default, for a model of `build_model`: each head's kind's metrics.
          weighting: a registered method name (`mtl_keras.METHODS`), a (name, {option:
            value}) pair, or a `methods.base.Method` built for these tasks.
          rep_grad: gradient-level methods: take the task gradients with respect to the
            representation declared by `set_representation` instead of the shared
            variables (one small backward pass per task, then one through the trunk).
          **kwargs: the other arguments of `keras.Model.compile` (e.g. jit_compile).

        Raises:
          ValueError: a task without a loss, weights or losses for unknown tasks, or
            `rep_grad` without a representation or with a method that refuses it (the
            loss and task-gradient levels).
        """
        described = head_descriptions.tasks_of(self)
        if loss is None and described:
            loss = {task.name: losses.make_loss(task) for task in described}
        if metrics is None and weighted_metrics is None and described:
            metrics = {task.name: losses.make_metrics(task) for task in described}
        if weighted_metrics is None:
            metrics, weighted_metrics = None, metrics
        super().compile(optimizer=optimizer, metrics=metrics, weighted_metrics=weighted_metrics,
                        **kwargs)
        names = self.task_names
        self._task_losses = task_losses.TaskLosses(names, loss, loss_weights)
        method = _method(weighting, names)
        # e.g. rebuilt from a saved model's compile configuration; a task-gradient method
        # is built below, on the shape of the task gradients.
        if not method.built and method.level != "task_gradients":
            method.build()
        if tuple(method.task_names) != names:
            raise ValueError(f"The method was built for tasks {method.task_names}, the model's "
                             f"are {names}.")
        if rep_grad and method.rep_grad_refusal():
            raise ValueError(f"rep_grad applies to gradient-level methods; this one "
                             f"{method.rep_grad_refusal()}.")
        if rep_grad and not self._representation:
            raise ValueError("rep_grad needs the shared representation: call "
                             "set_representation(tensors) first.")
        self._method = method  # tracked: its variables are saved and restored with the run's
        if hasattr(self.optimizer, "exclude_from_weight_decay") and method.trainable_variables:
            self.optimizer.exclude_from_weight_decay(var_list=method.trainable_variables)
        self.rep_grad = bool(rep_grad)
        self._trackers = step_logs.StepLogs(names, method.logs_weights, method.level != "loss")
        method_ids = {id(v) for v in self._method.variables}
        model_variables = [v for v in self.trainable_variables if id(v) not in method_ids]
        _untracked(self, "_parts", sharing.split(self, model_variables, self.variable_owners(),
                                                 self._representation, self.rep_grad))
        dimension = sum(step_math.size(variable) for variable in self._parts.shared_variables)
        if not method.built:
            method.build((len(names), dimension))
        if method.level == "task_gradients" and method.dimension != dimension:
            raise ValueError(f"The method was built for task gradients of {method.dimension} "
                             f"shared parameters, the model's have {dimension}.")
        # Saved with the model (get_compile_config): a loaded model.keras evaluates with the
        # same losses and weights, and trains on with the same method and its state.
        self._compile_config.config.update(loss=loss, loss_weights=loss_weights,
                                           weighting=method, rep_grad=self.rep_grad)

    def compile_from_config(self, config):
        """Compiles a loaded model as its saved compile configuration says (Keras' own
        declines to for a model whose compile() is its own)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a distribution strategy, Keras (3.15, TensorFlow) builds the model from a
        # first batch drawn through an iterator of its own, then trains through a new one.
        # A dataset shuffled anew at each pass (`reshuffle_each_iteration`, the seeds of
        # `Dataset.random`) then trains each epoch on the order of the epoch after it: the
        # same run on one device and on several saw other batches. Built from the data's
        # shapes instead, without iterating it.
        if iterator is not None and data_batch is None:
            data_batch = iterator.data_adapter.get_tf_dataset().element_spec
        super()._maybe_symbolic_build(data_batch=data_batch)

    @property
    def metrics(self):
        trackers = getattr(self, "_trackers", None)
        return super().metrics + (trackers.all() if trackers is not None else [])

    # The steps.
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        step = {"loss": self._loss_level_step, "gradient": self._gradient_level_step,
                "task_gradients": self._task_gradient_step}[self._method.level]
        y_pred, losses = step(x, y, sample_weight)
        self._update_losses(losses)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def _update_losses(self, losses):
        self._loss_tracker.update_state(tf.reduce_sum(losses.weighted_global))
        self._trackers.update_losses(losses)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self._update_losses(self._task_losses.compute(y, y_pred, sample_weight))
        logs = self.compute_metrics(x, y, y_pred, sample_weight)
        return {name: value for name, value in logs.items()
                if name not in self._trackers.diagnostic_names}

    def _loss_level_step(self, x, y, sample_weight):
        """Forward, the method's scalar, one backward pass."""
        method = self._method
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            losses = self._task_losses.compute(y, y_pred, sample_weight)
            with tf.GradientTape() as inner:
                global_losses = tf.stop_gradient(losses.weighted_global)
                inner.watch(global_losses)
                # Present: a known label in the global batch (counts summed over replicas).
                objective = method.objective(global_losses, self.optimizer.iterations,
                                             present=losses.global_counts > 0)
            weights, *method_gradients = step_math.gradients_or_zeros(
                inner, objective, [global_losses, *method.trainable_variables])
            total = tf.reduce_sum(tf.stop_gradient(weights) * losses.weighted_local)
            scaled = self.optimizer.scale_loss(total + self._layer_losses())
        model_variables = self._parts.model_variables
        gradients = step_math.gradients_or_zeros(tape, scaled, model_variables)
        self._apply(gradients, model_variables, method_gradients)
        self._trackers.update_weights(weights, losses.global_counts)
        return y_pred, losses

    def _gradient_level_step(self, x, y, sample_weight):
        """Forward, one backward pass per task to the shared variables (or representation),
        the method's weights from the global Gramian, then the combined update."""
        method, parts = self._method, self._parts
        step = self.optimizer.iterations
        with tf.GradientTape(persistent=True) as tape:
            if self.rep_grad:
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
                y_pred = self(x, training=True)
            losses = self._task_losses.compute(y, y_pred, sample_weight)
            scale = self.optimizer.scale_loss(tf.constant(1.0))
            scaled = losses.weighted_local * scale
            per_task = tf.unstack(scaled)
            scales, transformed, transform_gradients = step_math.transformed_losses(
                method, losses.weighted_global, losses.global_counts > 0)
            private_target = tf.reduce_sum(scaled * scales)
            layer_losses = self._layer_losses() * scale
        targets = leaves if self.rep_grad else parts.shared_variables
        task_gradients = [step_math.gradients_or_zeros(tape, loss, targets) for loss in per_task]
        gramian = step_math.task_gramian(task_gradients, summed_later=not self.rep_grad)
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
        if self.rep_grad:
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
        self._apply([a + b for a, b in zip([*shared, *private], regularization)], updated,
                    method_gradients)
        self._trackers.update_weights(coefficients, losses.global_counts)
        self._trackers.update_gradients(gramian, losses.global_counts)
        return y_pred, losses

    def _task_gradient_step(self, x, y, sample_weight):
        """Forward, one backward pass per task (per task and sub-batch, for a method that
        needs K independent samples) to the shared variables, the task gradients summed
        over the replicas, and the method's update of the shared variables."""
        method, parts = self._method, self._parts
        with tf.GradientTape(persistent=True) as tape:
            y_pred = self(x, training=True)
            losses = self._task_losses.compute(y, y_pred, sample_weight)
            scale = self.optimizer.scale_loss(tf.constant(1.0))
            scaled = losses.weighted_local * scale
            private_target = tf.reduce_sum(scaled)
            layer_losses = self._layer_losses() * scale
            if method.samples == 1:
                sample_losses = [losses]
            else:  # one forward pass; each sub-batch's losses from its examples
                batch_size = tf.shape(y_pred[self.task_names[0]])[0]
                sample_losses = [self._task_losses.compute(y, y_pred, weights)
                                 for weights in task_losses.sub_batch_weights(
                                     self.task_names, sample_weight, batch_size,
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
        update, weights = method.combine(gradients, losses.weighted_global,
                                         self.optimizer.iterations,
                                         present=losses.global_counts > 0)
        # Every replica holds the global update, and the optimizer sums the replicas'.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        shared = step_math.unflatten(tf.stop_gradient(update) * scale / replicas,
                                     shared_variables)
        self._apply([a + b for a, b in zip([*shared, *private], regularization)], updated, [])
        if weights is not None:
            self._trackers.update_weights(weights, losses.global_counts)
        self._trackers.update_gradients(tf.matmul(whole, whole, transpose_b=True),
                                        losses.global_counts)
        return y_pred, losses

    def _layer_losses(self):
        """This replica's share of the model's own losses (its layers' regularizers and
        `add_loss` terms), so that their sum over the replicas is theirs: a float32 scalar,
        0 when there are none."""
        own = [tf.cast(loss, tf.float32) for loss in self.losses]
        if not own:
            return tf.constant(0.0)
        return tf.add_n(own) / tf.distribute.get_strategy().num_replicas_in_sync

    def _apply(self, gradients, variables, method_gradients):
        """Applies the model's gradients and the method's (the same on every replica: each
        replica's share, so that the optimizer's sum over replicas is the method's own)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        scale = self.optimizer.scale_loss(tf.constant(1.0))
        method_variables = list(self._method.trainable_variables)
        method_gradients = [g * scale / replicas for g in method_gradients]
        self.optimizer.apply([*gradients, *method_gradients], [*variables, *method_variables])


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


def _method(weighting, names):
    """The `Method` that `weighting` (a name, a (name, options) pair or a Method) gives."""
    if isinstance(weighting, str):
        return methods_lib.make(weighting, names)
    if isinstance(weighting, (tuple, list)):
        name, options = weighting
        return methods_lib.make(name, names, options=options)
    return weighting


def wrap(model, representation=None):
    """A `MultiTaskModel` on the graph of a functional Keras model of yours (same layers,
    same weights), so that `compile(weighting=...)` and `fit` train it with any method.

    Args:
      model: a functional `keras.Model` whose outputs are a dict keyed by task name, or
        a list of outputs (each task then named after its output layer).
      representation: where gradient methods with `rep_grad=True` take the task
        gradients: a Keras tensor of the model's graph that every head reads, a layer
        name (its output), or a list of them. Optional.

    Returns:
      The `MultiTaskModel`.

    Raises:
      ValueError: not a functional model, outputs without distinct names, or an unknown
        representation layer.
    """
    if not isinstance(model, keras.Model) or not getattr(model, "_outputs_struct", None):
        raise ValueError("wrap() takes a functional Keras model (keras.Model(inputs, outputs)); "
                         "build yours with the functional API.")
    outputs = model._outputs_struct  # noqa: SLF001
    if not isinstance(outputs, dict):
        tensors = keras.tree.flatten(outputs)
        outputs = {tensor._keras_history[0].name: tensor for tensor in tensors}  # noqa: SLF001
        if len(outputs) != len(tensors):
            raise ValueError("wrap(): the model's outputs come from layers of the same name; give "
                             "each output layer a name, or return a dict of outputs.")
    wrapped = MultiTaskModel(model._inputs_struct, dict(outputs), name=model.name)  # noqa: SLF001
    if representation is not None:
        items = representation if isinstance(representation, (list, tuple)) else [representation]
        wrapped.set_representation([model.get_layer(item).output if isinstance(item, str)
                                    else item for item in items])
    return wrapped


def _untracked(layer, name, value):
    # Not a sublayer: Keras would save its variables into model.keras a second time.
    object.__setattr__(layer, name, value)


def _reference(tensor):
    """[name of the layer that outputs `tensor`, its index among the layer's outputs], or
    None when that layer is called more than once (its node would be ambiguous)."""
    layer, _, index = tensor._keras_history  # noqa: SLF001
    return [layer.name, index] if len(layer._inbound_nodes) == 1 else None  # noqa: SLF001
