"""The multi-task model: a Functional model whose train step hands per-task losses to a method.

`MultiTaskModel` keeps Keras' Functional API (it is built from inputs and a dict of outputs
keyed by task name) and overrides `train_step` and `test_step`, as in the Keras guide
"customizing what happens in fit". A step computes each task's loss (its mean over the
examples whose label is known, over the whole global batch) and then lets the compiled
method (`mtl_keras.methods`) decide the update, at the level the method works on (a
scalar of the losses, the Gramian of the task gradients, or the task gradients themselves:
`levels.py`).

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
from mtl_keras.step import levels
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
        # Also without a strategy, where Keras leaves the building to the first trace of the
        # step: the optimizer's and the metrics' variables made there would make TensorFlow
        # trace the step a second time (seconds per run).
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    @property
    def metrics(self):
        trackers = getattr(self, "_trackers", None)
        return super().metrics + (trackers.all() if trackers is not None else [])

    # The steps.
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        step = {"loss": levels.loss_level, "gradient": levels.gradient_level,
                "task_gradients": levels.task_gradient_level}[self._method.level]
        y_pred, losses = step(self, x, y, sample_weight)
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


def _method(weighting, names):
    """The `Method` that `weighting` (a name, a (name, options) pair or a Method) gives."""
    if isinstance(weighting, str):
        return methods_lib.make(weighting, names)
    if isinstance(weighting, (tuple, list)):
        name, options = weighting
        return methods_lib.make(name, names, options=options)
    return weighting


def _untracked(layer, name, value):
    # Not a sublayer: Keras would save its variables into model.keras a second time.
    object.__setattr__(layer, name, value)


def _reference(tensor):
    """[name of the layer that outputs `tensor`, its index among the layer's outputs], or
    None when that layer is called more than once (its node would be ambiguous)."""
    layer, _, index = tensor._keras_history  # noqa: SLF001
    return [layer.name, index] if len(layer._inbound_nodes) == 1 else None  # noqa: SLF001
