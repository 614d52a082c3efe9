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
  gradient of its own loss.

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

import itertools

import keras
import tensorflow as tf

from mtl_keras import methods as methods_lib
from mtl_keras.training import task_losses


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
        owners = _variable_owners(self)
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

        Args:
          optimizer: a Keras optimizer or its name.
          loss: {task: loss}: a Keras loss object, a registered Keras loss name, or a
            function loss(y_true, y_pred) returning one value per example; one loss for
            every task is also accepted.
          loss_weights: {task: weight} multiplying each task's loss before the method
            sees it (default 1).
          metrics, weighted_metrics: as for `keras.Model.compile`; per-head sample weights
            (0 where a label is missing) apply to `weighted_metrics`.
          weighting: a registered method name (`mtl_keras.methods.METHODS`) or a
            `methods.base.Method` built for these tasks.
          rep_grad: gradient-level methods: take the task gradients with respect to the
            representation declared by `set_representation` instead of the shared
            variables (one small backward pass per task, then one through the trunk).
          **kwargs: the other arguments of `keras.Model.compile` (e.g. jit_compile).

        Raises:
          ValueError: a task without a loss, weights or losses for unknown tasks, or
            `rep_grad` without a representation or with a loss-level method.
        """
        super().compile(optimizer=optimizer, metrics=metrics, weighted_metrics=weighted_metrics,
                        **kwargs)
        names = self.task_names
        self._task_losses = task_losses.TaskLosses(names, loss, loss_weights)
        method = methods_lib.make(weighting, names) if isinstance(weighting, str) else weighting
        if not method.built:  # e.g. rebuilt from a saved model's compile configuration
            method.build()
        if tuple(method.task_names) != names:
            raise ValueError(f"The method was built for tasks {method.task_names}, the model's "
                             f"are {names}.")
        if rep_grad and method.level != "gradient":
            raise ValueError("rep_grad applies to gradient-level methods only.")
        if rep_grad and not self._representation:
            raise ValueError("rep_grad needs the shared representation: call "
                             "set_representation(tensors) first.")
        self._method = method  # tracked: its variables are saved and restored with the run's
        if hasattr(self.optimizer, "exclude_from_weight_decay") and method.trainable_variables:
            self.optimizer.exclude_from_weight_decay(var_list=method.trainable_variables)
        self.rep_grad = bool(rep_grad)
        self._trackers = _Trackers(names, method.logs_weights, method.level == "gradient")
        _untracked(self, "_parts", self._split_parts())
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

    @property
    def metrics(self):
        trackers = getattr(self, "_trackers", None)
        return super().metrics + (trackers.all() if trackers is not None else [])

    # The steps.
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if self._method.level == "loss":
            y_pred, losses = self._loss_level_step(x, y, sample_weight)
        else:
            y_pred, losses = self._gradient_level_step(x, y, sample_weight)
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
                objective = method.objective(global_losses, self.optimizer.iterations)
            weights, *method_gradients = _gradients(
                inner, objective, [global_losses, *method.trainable_variables])
            total = tf.reduce_sum(tf.stop_gradient(weights) * losses.weighted_local)
            scaled = self.optimizer.scale_loss(total)
        model_variables = self._parts.model_variables
        gradients = _gradients(tape, scaled, model_variables)
        self._apply(gradients, model_variables, method_gradients)
        self._trackers.update_weights(weights)
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
            scales, transformed, transform_gradients = _transform(method, losses.weighted_global)
            private_target = tf.reduce_sum(scaled * scales)
        targets = leaves if self.rep_grad else parts.shared_variables
        task_gradients = [_gradients(tape, loss, targets) for loss in per_task]
        gramian = _gramian(task_gradients, summed_later=not self.rep_grad) / tf.square(scale)
        gramian = gramian * scales[:, None] * scales[None, :]
        with tf.GradientTape() as inner:
            weights = tf.stop_gradient(method.task_weights(gramian, transformed, step))
            auxiliary = method.auxiliary_loss(gramian, transformed, step)
        auxiliary_gradients = _gradients(inner, auxiliary, method.trainable_variables)
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
        private = _gradients(tape, private_target, parts.private_variables)
        del tape
        method_gradients = [a + b for a, b in zip(transform_gradients, auxiliary_gradients)]
        self._apply([*shared, *private], [*shared_variables, *parts.private_variables],
                    method_gradients)
        self._trackers.update_weights(coefficients)
        self._trackers.update_gradients(gramian)
        return y_pred, losses

    def _apply(self, gradients, variables, method_gradients):
        """Applies the model's gradients and the method's (the same on every replica: each
        replica's share, so that the optimizer's sum over replicas is the method's own)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        scale = self.optimizer.scale_loss(tf.constant(1.0))
        method_variables = list(self._method.trainable_variables)
        method_gradients = [g * scale / replicas for g in method_gradients]
        self.optimizer.apply([*gradients, *method_gradients], [*variables, *method_variables])

    # The split of the variables.
    def _split_parts(self):
        """The variables shared by several tasks and those of one task, and, with
        `rep_grad`, the models before and after the representation."""
        method_ids = {id(v) for v in self._method.variables}
        model_variables = [v for v in self.trainable_variables if id(v) not in method_ids]
        owners = self.variable_owners()
        shared = [v for v in model_variables if len(owners.get(id(v), ())) > 1]
        private = [v for v in model_variables if len(owners.get(id(v), ())) <= 1]
        encoder = decoder = None
        encoder_variables = []
        if self._representation:
            encoder = keras.Model(self.inputs, list(self._representation))
            decoder = keras.Model(list(self._representation), self.output_dict())
            encoder_ids = {id(v) for v in encoder.trainable_variables}
            encoder_variables = [v for v in model_variables if id(v) in encoder_ids]
            if self.rep_grad:
                private = [v for v in model_variables if id(v) not in encoder_ids]
        return _Parts(model_variables, shared, private, encoder, decoder, encoder_variables)


class _Parts:
    """The model's variables by role, and its encoder and decoder (see `_split_parts`)."""

    def __init__(self, model_variables, shared, private, encoder, decoder, encoder_variables):
        self.model_variables = model_variables
        self.shared_variables = shared
        self.private_variables = private
        self.encoder, self.decoder = encoder, decoder
        self.encoder_variables = encoder_variables


def _untracked(layer, name, value):
    # Not a sublayer: Keras would save its variables into model.keras a second time.
    object.__setattr__(layer, name, value)


def _reference(tensor):
    """[name of the layer that outputs `tensor`, its index among the layer's outputs], or
    None when that layer is called more than once (its node would be ambiguous)."""
    layer, _, index = tensor._keras_history  # noqa: SLF001
    return [layer.name, index] if len(layer._inbound_nodes) == 1 else None  # noqa: SLF001


def _variable_owners(model):
    """{id(variable): set of task names whose output depends on it}, from the graph."""
    owners = {}
    for name, output in model.output_dict().items():
        for operation in _upstream_operations(output):
            for variable in operation.trainable_variables:
                owners.setdefault(id(variable), set()).add(name)
    return owners


def _upstream_operations(tensor):
    """The operations (layers) of the Functional graph that `tensor` depends on."""
    seen, stack = {}, [tensor]
    while stack:
        operation, node_index, _ = stack.pop()._keras_history
        if id(operation) in seen:
            continue
        seen[id(operation)] = operation
        stack.extend(operation._inbound_nodes[node_index].input_tensors)  # noqa: SLF001
    return list(seen.values())


def _gradients(tape, target, sources):
    """tape.gradient with zeros (not None) for sources the target does not depend on."""
    gradients = tape.gradient(target, sources) if sources else []
    return [tf.zeros(source.shape, source.dtype) if gradient is None else gradient
            for source, gradient in zip(sources, gradients)]


def _transform(method, global_losses):
    """(d transform_t / d loss_t, the transformed global losses, the gradients of their sum
    with respect to the method's trainable variables)."""
    with tf.GradientTape() as inner:
        inner.watch(global_losses)
        transformed = method.transform(global_losses)
        total = tf.reduce_sum(transformed)
    scales, *gradients = _gradients(inner, total, [global_losses, *method.trainable_variables])
    return tf.stop_gradient(scales), tf.stop_gradient(transformed), gradients


def _gramian(task_gradients, summed_later):
    """The T×T Gramian of the task gradients of the global batch.

    `task_gradients[t]` is task t's gradient on this replica, a list of tensors. Whole-model
    gradients (`summed_later`: the replicas' gradients add up to the global one) are summed
    over the replicas before their inner products; representation gradients, whose rows
    are this replica's own examples, give inner products that add up across replicas.
    """
    if summed_later:
        task_gradients = task_losses.all_sum(task_gradients)
    flat = tf.stack([tf.concat([tf.reshape(tf.cast(g, tf.float32), [-1]) for g in gradients], 0)
                     for gradients in task_gradients])
    gramian = tf.matmul(flat, flat, transpose_b=True)
    return gramian if summed_later else task_losses.all_sum(gramian)


class _Trackers:
    """The epoch averages the train step logs: each task's loss, the total, and the
    method's diagnostics (effective task weights; with gradient methods, the task
    gradients' norms and their pairwise cosines)."""

    def __init__(self, names, logs_weights, gradient_level):
        self.names = names
        self.losses = {name: keras.metrics.Mean(name=f"{name}_loss") for name in names}
        self.weights = {}
        if logs_weights:
            self.weights = {name: keras.metrics.Mean(name=f"{name}_weight") for name in names}
        self.norms, self.cosines = {}, {}
        if gradient_level:
            self.norms = {name: keras.metrics.Mean(name=f"{name}_gradient_norm") for name in names}
            self.cosines = {pair: keras.metrics.Mean(name=f"gradient_cosine_{pair[0]}_{pair[1]}")
                            for pair in itertools.combinations(names, 2)}
        self.diagnostic_names = {metric.name for metric in self.diagnostics()}

    def diagnostics(self):
        return [*self.weights.values(), *self.norms.values(), *self.cosines.values()]

    def all(self):
        return [*self.losses.values(), *self.diagnostics()]

    def update_losses(self, losses):
        # Weighted by the batch's known labels: an epoch's figure is the mean over all the
        # known labels of the epoch, whatever their share in each batch.
        for name, value, count in zip(self.names, tf.unstack(losses.global_unweighted),
                                      tf.unstack(losses.global_counts)):
            self.losses[name].update_state(value, sample_weight=count)

    def update_weights(self, weights):
        for name, value in zip(self.names, tf.unstack(weights)):
            if name in self.weights:
                self.weights[name].update_state(value)

    def update_gradients(self, gramian):
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gramian), 0.0))
        for index, name in enumerate(self.names):
            self.norms[name].update_state(norms[index])
        for (first, second), metric in self.cosines.items():
            i, j = self.names.index(first), self.names.index(second)
            metric.update_state(tf.math.divide_no_nan(gramian[i, j], norms[i] * norms[j]))
