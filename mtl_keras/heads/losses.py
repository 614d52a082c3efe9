"""The registry of per-head losses, by the names a `Task` uses, and each head's metrics.

A loss is a registered name or an import path `package.module:function` of a function
`loss(y_true, y_pred)` returning one value per example. Every head's loss is wrapped in
`HeadLoss`, which gives the per-example loss (the train step averages it over the examples
whose label is known: `task_losses`) and, for regression heads, measures errors in
standard deviations of the target, so that heads of different units weigh alike. The
metrics are the head kind's (`mtl_keras.heads`).

Only the run's own flags import a loss's module (`resolve_loss_function`). A `HeadLoss`
rebuilt from a saved model's configuration imports nothing: see `find_loss_function`.
"""

import importlib
import re
import sys

import keras
import numpy as np
from keras import ops

from mtl_keras import errors
from mtl_keras.heads import base

LOSSES = base.LOSSES


def resolve_loss_function(name):
    """Returns the loss function a registered name or an import path names, importing
    the path's module: for losses the user names in this run's flags only."""
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


def find_loss_function(name):
    """Returns the loss function `name` names without importing anything, or None.

    A registered name is found in the registry; an import path `package.module:function`
    among the `custom_objects` given to `keras.saving.load_model` (keyed by the path) or
    in a module the caller has already imported. A saved model's configuration can name
    any module, so loading one never imports what it names.
    """
    if name in LOSSES:
        return LOSSES.get(name)
    if ":" not in name:
        return None
    given = keras.saving.get_registered_object(name)
    if given is not None:
        return given
    module_name, _, attribute = name.partition(":")
    return getattr(sys.modules.get(module_name), attribute, None)


@keras.saving.register_keras_serializable(package="mtl_keras")
class HeadLoss(keras.losses.Loss):
    """A head's per-example loss (`call`): the named function on targets divided by `scale`.

    `function` is the loss function itself; without it, the constructor looks the name up
    with `find_loss_function`, which imports nothing (that is how a saved model is
    loaded), and calling the loss looks again before it raises.
    """

    def __init__(self, function_name, scale=1.0, label_smoothing=0.0, name=None, function=None,
                 **kwargs):
        kwargs.pop("reduction", None)  # saved by older versions; the train step reduces
        # TensorFlow name scopes allow no ":", which import paths have.
        super().__init__(name=name or re.sub(r"[^A-Za-z0-9_.]", "_", function_name), **kwargs)
        self.function_name = function_name
        self.scale = float(scale)
        self.label_smoothing = float(label_smoothing)
        self.function = function or find_loss_function(function_name)
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
        return self._loss_function()(y_true, y_pred)

    def _loss_function(self):
        """The loss function, looked up again if loading did not find it: the caller may
        have imported its module since."""
        if self.function is None:
            self.function = find_loss_function(self.function_name)
        if self.function is None and ":" not in self.function_name:
            raise ValueError(f"The loss {self.function_name!r} is not registered in this version "
                             f"of mtl_keras; compile the model again with losses of your own.")
        if self.function is None:
            module = self.function_name.partition(":")[0]
            raise ValueError(
                f"The loss {self.function_name!r} is not available: loading a model never "
                f"imports the modules its configuration names. Import {module} yourself, or pass "
                f"custom_objects={{{self.function_name!r}: FUNCTION}} to keras.saving.load_model, "
                f"or compile the model again with losses of your own.")
        return self.function

    def get_config(self):
        return {"function_name": self.function_name, "scale": self.scale,
                "label_smoothing": self.label_smoothing, "name": self.name}


SMOOTHABLE = "sparse_categorical_crossentropy"


def make_loss(task, label_smoothing=0.0):
    """Returns the `HeadLoss` of `task`; `label_smoothing` applies to multiclass heads that
    keep the default cross-entropy (the targets become 1 - s on the label, s / classes
    spread over all classes)."""
    scale = task.head_kind.loss_scale(task)
    smoothing = label_smoothing if task.loss_name == SMOOTHABLE else 0.0
    return HeadLoss(task.loss_name, scale=scale, label_smoothing=smoothing,
                    function=resolve_loss_function(task.loss_name))


def check_loss(task):
    """Raises UserError unless `task`'s loss can train it, before any training starts.

    A registered loss must be one its head's kind fits (`fitting_losses`: the
    cross-entropies need class ids and a softmax, or 0/1 targets and probabilities; the
    distances compare outputs with targets of the same shape; another kind would broadcast
    or clip silently instead of failing). Any loss is then tried on a
    small batch shaped like the head's labels and outputs, as the training step hands
    them over: it must not raise, and must return one value per example.
    """
    name = task.loss_name
    if name in LOSSES and name not in task.head_kind.fitting_losses:
        fitting = sorted(task.head_kind.fitting_losses)
        raise errors.UserError(
            f"The loss {name!r} does not fit head {task.name!r}, a {task.kind} head; the "
            f"registered losses that fit it are {', '.join(fitting)} (or give "
            f"package.module:function of a loss of your own).")
    loss = make_loss(task)
    y_true, y_pred = task.head_kind.probe_batch(task)
    try:
        values = loss.call(ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred))
    except Exception as error:  # pylint: disable=broad-except  (the user's code can raise anything)
        detail = (str(error).strip().splitlines() or ["no message"])[0][:200]
        raise errors.UserError(
            f"The loss {name!r} of head {task.name!r} fails on a batch of its labels and outputs "
            f"({type(error).__name__}: {detail}); a loss is loss(y_true, y_pred) returning one "
            f"value per example.") from None
    shape = tuple(np.shape(values))  # also of a Python number, or of None from a missing return
    if shape != (len(y_true),):
        raise errors.UserError(
            f"The loss {name!r} of head {task.name!r} returns shape {shape} for a batch of "
            f"{len(y_true)} examples; it must return one value per example, shape "
            f"({len(y_true)},): reduce over the other axes only.")


def make_metrics(task):
    """Returns the Keras metric objects of `task`: its kind's, for the metrics it logs."""
    kind = task.head_kind
    return [kind.metric(name).keras(task) for name in task.metric_names
            if kind.metric(name).keras is not None]
