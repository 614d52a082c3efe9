"""FusedBatchNormalization computes what Keras' BatchNormalization computes, in one op."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.models import batch_norm


def _pair(seed=0):
    """A fused layer and a Keras layer with the same (non-trivial) weights, and an input."""
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, (8, 5, 5, 4)).astype(np.float32)
    fused, reference = batch_norm.FusedBatchNormalization(), keras.layers.BatchNormalization()
    fused.build(x.shape)
    reference.build(x.shape)
    weights = [rng.normal(1.0, 0.2, 4), rng.normal(0.0, 0.5, 4),
               rng.normal(0.0, 1.0, 4), rng.uniform(0.5, 2.0, 4)]
    fused.set_weights([w.astype(np.float32) for w in weights])
    reference.set_weights([w.astype(np.float32) for w in weights])
    return fused, reference, tf.constant(x)


def test_inference_uses_the_moving_statistics_like_keras():
    fused, reference, x = _pair()
    np.testing.assert_allclose(fused(x, training=False), reference(x, training=False),
                               rtol=1e-5, atol=1e-5)


def test_training_outputs_and_gradients_match_keras():
    fused, reference, x = _pair(1)
    upstream = tf.constant(np.random.default_rng(2).normal(size=x.shape).astype(np.float32))
    results = []
    for layer in (fused, reference):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])
        results.append([y, *grads])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_training_moves_the_averages_by_one_minus_momentum():
    fused, _, x = _pair(3)
    old_mean, old_variance = fused.moving_mean.numpy(), fused.moving_variance.numpy()
    fused(x, training=True)
    values = x.numpy().reshape(-1, 4)
    np.testing.assert_allclose(fused.moving_mean.numpy(),
                               0.99 * old_mean + 0.01 * values.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(fused.moving_variance.numpy(),
                               0.99 * old_variance + 0.01 * values.var(axis=0, ddof=1), rtol=1e-5)
    before = fused.moving_mean.numpy()
    fused(x, training=False)
    np.testing.assert_array_equal(fused.moving_mean.numpy(), before)


def test_bfloat16_policy_trains_and_predicts_with_float32_weights(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        inputs = keras.Input((6, 6, 2))
        x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
        x = batch_norm.FusedBatchNormalization(momentum=0.9)(x)
        outputs = keras.layers.Dense(1, dtype="float32")(keras.layers.Flatten()(x))
        model = keras.Model(inputs, outputs)
        model.compile("sgd", "mse")
        images = np.random.default_rng(4).normal(size=(16, 6, 6, 2)).astype(np.float32)
        model.fit(images, np.zeros((16, 1)), epochs=1, verbose=0)
        layer = model.layers[2]
        assert layer.compute_dtype == "bfloat16" and layer.gamma.dtype == "float32"
        assert not np.allclose(layer.moving_mean.numpy(), 0.0)  # moved during fit
        path = os.path.join(tmp_path, "model.keras")
        model.save(path)
        restored = keras.models.load_model(path)
        np.testing.assert_allclose(restored.predict(images, verbose=0),
                                   model.predict(images, verbose=0), rtol=1e-6)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_refuses_inputs_that_are_not_feature_maps():
    with pytest.raises(ValueError, match="NHWC feature maps"):
        batch_norm.FusedBatchNormalization()(tf.zeros((2, 3)))
