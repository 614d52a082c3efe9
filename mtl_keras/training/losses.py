"""Registries of per-head losses and metrics, by the names a `Task` uses.

A loss is a registered name or an import path `package.module:function` of a function
`loss(y_true, y_pred)` returning one value per example. Every head's loss is wrapped in
`HeadLoss`, which averages over the examples whose label is known (missing labels get
sample weight 0) and, for regression heads, measures errors in standard deviations of
the target, so that heads of different units weigh alike.
"""

import importlib
import re

import keras
from keras import ops

from mtl_keras import errors
from mtl_keras import registry

LOSSES = registry.Registry("loss")
METRICS = registry.Registry("metric")

LOSSES.register("sparse_categorical_crossentropy")(keras.losses.sparse_categorical_crossentropy)
LOSSES.register("binary_crossentropy")(keras.losses.binary_crossentropy)
LOSSES.register("mse")(keras.losses.mean_squared_error)
LOSSES.register("mae")(keras.losses.mean_absolute_error)
LOSSES.register("huber")(keras.losses.huber)


def resolve_loss_function(name):
    """Returns the loss function a registered name or an import path names."""
    if ":" not in name:
        return LOSSES.get(name)
    module_name, _, attribute = name.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise errors.UserError(
            f"Loss {name!r} cannot be imported ({error}); give package.module:function of an "
            f"importable function, or one of: {', '.join(LOSSES.names())}.") from None
    if not callable(function):
        raise errors.UserError(f"Loss {name!r} is not a function.")
    return function


@keras.saving.register_keras_serializable(package="mtl_keras")
class HeadLoss(keras.losses.Loss):
    """A head's loss: the named function on targets divided by `scale`, averaged over
    the examples with a known label."""

    def __init__(self, function_name, scale=1.0, label_smoothing=0.0, name=None, **kwargs):
        kwargs.pop("reduction", None)
        # TensorFlow name scopes allow no ":", which import paths have.
        super().__init__(name=name or re.sub(r"[^A-Za-z0-9_.]", "_", function_name),
                         reduction="mean_with_sample_weight", **kwargs)
        self.function_name = function_name
        self.scale = float(scale)
        self.label_smoothing = float(label_smoothing)
        self.function = resolve_loss_function(function_name)
        if self.label_smoothing and function_name != SMOOTHABLE:
            raise ValueError(f"Label smoothing applies to {SMOOTHABLE} only, not {function_name}.")

    def call(self, y_true, y_pred):
        if self.label_smoothing:
            # Keras' sparse cross-entropy has no smoothing: the dense one on one-hot labels.
            one_hot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), y_pred.shape[-1])
            return keras.losses.categorical_crossentropy(one_hot, y_pred,
                                                         label_smoothing=self.label_smoothing)
        if self.scale != 1.0:
            y_true, y_pred = y_true / self.scale, y_pred / self.scale
        return self.function(y_true, y_pred)

    def get_config(self):
        return {"function_name": self.function_name, "scale": self.scale,
                "label_smoothing": self.label_smoothing, "name": self.name}


SMOOTHABLE = "sparse_categorical_crossentropy"


def make_loss(task, label_smoothing=0.0):
    """Returns the `HeadLoss` of `task`; `label_smoothing` applies to multiclass heads that
    keep the default cross-entropy (the targets become 1 - s on the label, s / classes
    spread over all classes)."""
    scale = task.target_std if task.kind == "regression" else 1.0
    smoothing = label_smoothing if task.loss_name == SMOOTHABLE else 0.0
    return HeadLoss(task.loss_name, scale=scale, label_smoothing=smoothing)


@METRICS.register("accuracy")
def _accuracy(task):
    if task.kind == "multiclass":
        return keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    return keras.metrics.BinaryAccuracy(name="accuracy")


@METRICS.register("top5_accuracy")
def _top5_accuracy(task):
    del task
    return keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy")


@METRICS.register("auc")
def _auc(task):
    return keras.metrics.AUC(name="auc", multi_label=task.kind == "multilabel",
                             num_labels=task.units if task.kind == "multilabel" else None)


@METRICS.register("mae")
def _mae(task):
    del task
    return keras.metrics.MeanAbsoluteError(name="mae")


@METRICS.register("rmse")
def _rmse(task):
    del task
    return keras.metrics.RootMeanSquaredError(name="rmse")


def make_metrics(task):
    """Returns the Keras metric objects of `task`."""
    return [METRICS.get(name)(task) for name in task.metric_names]

