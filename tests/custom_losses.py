"""A user's own losses, imported by path in the tests (e.g. custom_losses:doubled_mae)."""

import tensorflow as tf
from keras import ops

CALLS = []  # (eager, y_true shape, y_pred shape) of each call of doubled_mae


def doubled_mae(y_true, y_pred):
    """Twice the mean absolute error, per example."""
    CALLS.append((tf.executing_eagerly(), tuple(y_true.shape), tuple(y_pred.shape)))
    return 2.0 * ops.mean(ops.abs(y_true - y_pred), axis=-1)


def always_nan(y_true, y_pred):
    """A loss that is NaN from the first step (a broken loss, for the divergence tests)."""
    del y_true
    return ops.mean(y_pred, axis=-1) * float("nan")


def squared_error(y_true, y_pred):
    """The mean squared error, per example."""
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def raises(y_true, y_pred):
    """A loss with a bug."""
    raise KeyError("no column named 'weight'")


def one_argument(y_pred):
    """A loss that forgot the targets."""
    return ops.mean(y_pred, axis=-1)


def batch_mean(y_true, y_pred):
    """One value for the whole batch, not one per example: masks could not apply."""
    return ops.mean(ops.abs(y_true - y_pred))


def keeps_last_axis(y_true, y_pred):
    """Shape (batch, 1): the last axis not reduced."""
    return ops.abs(y_true - y_pred)


NOT_A_FUNCTION = 3
