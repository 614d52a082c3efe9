"""Every architecture under MirroredStrategy and mixed precision: one replica and two train to
the same weights, and the ResNet-based models train in bfloat16 over two replicas."""

import keras
import numpy as np
import pytest

import test_architectures as shared
from mtl_keras.models import architectures
from mtl_keras.training import strategy as strategy_lib

def _train(strategy, architecture, initial=None, trunk=shared.TINY, steps=2):
    """Trains a fresh model of `architecture` under `strategy` as the one-replica model of
    `test_architectures.trained_on_one_replica` was trained (on its global batch of 8
    examples twice); returns the model."""
    with strategy.scope():
        model = shared._build(shared.THREE, architecture, trunk=trunk)
        if initial is not None:
            model.set_weights(initial)
        shared._compile(model, shared.THREE, learning_rate=0.05)
    shared.fit_on_one_batch(model, shared.THREE, steps)
    return model


@pytest.mark.parametrize("architecture", architectures.ARCHITECTURES.names())
def test_one_replica_and_two_train_to_the_same_weights(architecture):
    one, initial, _, _ = shared.trained_on_one_replica(shared.THREE, architecture)
    two = _train(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), architecture, initial)
    # Trainable variables only: a moving variance's Bessel correction counts one replica's
    # examples.
    for first, second in zip(one.trainable_variables, two.trainable_variables):
        np.testing.assert_allclose(first.numpy(), second.numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=first.path)
    assert not np.allclose(one.get_weights()[0], initial[0])  # it did train


# mmoe and cgc are made of ple's layers (trunk experts, float32 gates, mixtures); hps is the
# model of today, which the end-to-end tests train at the default precision.
@pytest.mark.parametrize("architecture", ["ple", "cross_stitch", "mtan"])
def test_resnet_architectures_train_in_bfloat16_over_two_replicas(architecture):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = _train(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), architecture,
                   trunk="resnet9", steps=2)
    compute = {layer.compute_dtype for layer in model.layers if layer.weights}
    assert "bfloat16" in compute
    assert {model.get_layer(task.name).compute_dtype for task in shared.THREE} == {"float32"}
    images, _ = shared._data(shared.THREE, count=4)
    for name, values in model(images).items():  # called: no predict function to trace
        values = np.asarray(values)
        assert values.dtype == np.float32 and np.isfinite(values).all(), name
    assert all(np.isfinite(weights).all() for weights in model.get_weights())
