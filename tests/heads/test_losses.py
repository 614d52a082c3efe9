"""Per-head losses: label smoothing of the multiclass cross-entropy."""

import keras
import numpy as np
import pytest

from mtl_keras import errors
from mtl_keras.config import Config
from mtl_keras.tasks import Task
from mtl_keras.heads import losses

LABELS = np.array([2, 0, 1])
PROBABILITIES = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.25, 0.5, 0.25]], np.float32)


def _value(loss):
    return float(loss(LABELS, PROBABILITIES))


def test_smoothed_cross_entropy_by_hand():
    smoothing = 0.3
    targets = np.full((3, 3), smoothing / 3)
    targets[np.arange(3), LABELS] += 1 - smoothing
    expected = np.mean(-np.sum(targets * np.log(PROBABILITIES), axis=1))
    loss = losses.make_loss(Task("fine", 3), label_smoothing=smoothing)
    assert _value(loss) == pytest.approx(expected, rel=1e-5)
    plain = np.mean(-np.log(PROBABILITIES[np.arange(3), LABELS]))
    assert _value(losses.make_loss(Task("fine", 3))) == pytest.approx(plain, rel=1e-5)


def test_smoothing_spares_other_losses_and_survives_saving():
    age = losses.make_loss(Task("age", kind="regression"), label_smoothing=0.1)
    assert age.label_smoothing == 0.0
    custom = losses.make_loss(Task("fine", 3, loss="mse"), label_smoothing=0.1)
    assert custom.label_smoothing == 0.0
    smoothed = losses.make_loss(Task("fine", 3), label_smoothing=0.1)
    restored = keras.losses.deserialize(keras.losses.serialize(smoothed))
    assert restored.label_smoothing == 0.1 and _value(restored) == pytest.approx(_value(smoothed))
    with pytest.raises(ValueError, match="Label smoothing applies to"):
        losses.HeadLoss("mse", label_smoothing=0.1)


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_label_smoothing_flag_is_checked(value):
    with pytest.raises(errors.UserError, match="--label_smoothing must be at least 0 and below 1"):
        Config(label_smoothing=value)
