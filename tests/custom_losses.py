"""A user's own loss, imported by path in the tests (tests.custom_losses:doubled_mae)."""

from keras import ops

CALLS = []


def doubled_mae(y_true, y_pred):
    """Twice the mean absolute error, per example."""
    CALLS.append(1)
    return 2.0 * ops.mean(ops.abs(y_true - y_pred), axis=-1)


def always_nan(y_true, y_pred):
    """A loss that is NaN from the first step (a broken loss, for the divergence tests)."""
    del y_true
    return ops.mean(y_pred, axis=-1) * float("nan")
