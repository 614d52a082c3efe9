"""The arithmetic around the model: channel statistics of the training images, the
standardization layer that uses them, and a regression head answering in the targets'
units. Expected values by numpy, on data where a wrong version differs."""

import keras
import numpy as np
import pytest

from mtl_keras.data import source
from mtl_keras.models import build
from mtl_keras.tasks import Task


def test_channel_statistics_over_more_than_one_chunk():
    """1,100 images of 32×32 are 1,126,400 pixels: more than the 2**20 of one chunk, so a
    version keeping only the last chunk's sums, or dividing by the chunk's size, differs.
    The three channels have other means and spreads, so a mixed-up axis shows too."""
    rng = np.random.default_rng(0)
    images = np.stack([rng.integers(0, 256, (1100, 32, 32)),  # uniform: mean 127.5 / 255
                       rng.integers(100, 120, (1100, 32, 32)),  # narrow
                       np.where(rng.random((1100, 32, 32)) < 0.25, 255, 0)],  # a quarter white
                      axis=-1).astype(np.uint8)
    images[-1] = 255  # the last image, in the last chunk, all white
    mean, std = source.channel_statistics(images)
    pixels = images.reshape(-1, 3).astype(np.float64) / 255
    np.testing.assert_allclose(mean, pixels.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, pixels.std(axis=0), rtol=1e-5)
    assert mean.dtype == std.dtype == np.float32


def test_standardize_layer_and_regression_units():
    """The model takes uint8 images: its first layer computes (pixel / 255 - mean) / std per
    channel; a regression head's output is mean + std × its Dense layer's output."""
    mean, std = [0.2, 0.5, 0.7], [0.1, 0.25, 0.05]
    images = np.random.default_rng(1).integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)
    layer = build.Standardize(mean, std)
    expected = (images / 255.0 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(np.asarray(layer(images)), expected, rtol=1e-5, atol=1e-5)

    age = Task("age", kind="regression", target_mean=40.0, target_std=12.0)
    model = build.build_model((age,), "simple_cnn", (5, 5, 3), mean, std)
    standardised = keras.Model(model.inputs, model.get_layer("age_standardised").output)
    inner = np.asarray(standardised.predict(images, verbose=0))
    outer = model.predict(images, verbose=0)["age"]
    np.testing.assert_allclose(outer, 40.0 + 12.0 * inner, rtol=1e-5, atol=1e-4)
    assert np.std(inner) > 0.01  # the images give different answers: a swap would show
    assert outer.shape == (6, 1)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_heads_of_probabilities_sum_as_their_kind_says(kind):
    task = Task("head", num_classes=1 if kind == "binary" else 4, kind=kind)
    model = build.build_model((task,), "simple_cnn", (5, 5, 3), [0.5] * 3, [0.2] * 3)
    images = np.random.default_rng(2).integers(0, 256, (8, 5, 5, 3), dtype=np.uint8)
    outputs = model.predict(images, verbose=0)["head"]
    assert np.all((outputs > 0) & (outputs < 1))
    if kind == "multiclass":  # a softmax: one distribution per image
        np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)
    else:  # sigmoids: each label on its own
        assert not np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3)
