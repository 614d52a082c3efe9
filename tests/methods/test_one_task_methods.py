"""With one task every gradient-level and task-gradient method's update is the task's
gradient itself (weight 1), so that a study's single-task baselines may use the method of its joint runs.

The expected update is plain gradient descent on the task's loss, computed with a
GradientTape on a copy of the model, not through the train step. The data make the
plausible wrong versions differ: a weight of 0 (no update), of 1/2 or 2 (a normalisation
gone astray) each move the weights by a different amount."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import methods
from mtl_keras.step import wrap as wrap_lib

GRADIENT_METHODS = sorted(entry.name for entry in methods.METHODS.entries()
                          if entry.value.level in ("gradient", "task_gradients"))
LEARNING_RATE = 0.1


def _one_head_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, activation="tanh", name="hidden")(inputs)
    output = keras.layers.Dense(2, activation="softmax", name="only")(hidden)
    return keras.Model(inputs, {"only": output})


def _data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, 8)


def _expected_weights():
    """Weights after one step of plain SGD on the loss, computed by hand."""
    images, labels = _data()
    model = _one_head_model()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            labels, model(images)["only"]))
    gradients = tape.gradient(loss, model.trainable_variables)
    return [variable.numpy() - LEARNING_RATE * gradient.numpy()
            for variable, gradient in zip(model.trainable_variables, gradients)]


@pytest.fixture(scope="module")
def expected():
    return _expected_weights()


def test_the_example_moves_the_weights(expected):
    # A weight of 0 would leave the initial weights: they must differ from the expected.
    initial = [variable.numpy() for variable in _one_head_model().trainable_variables]
    assert max(np.abs(a - b).max() for a, b in zip(initial, expected)) > 1e-3


# Every method on the shared variables (none: an empty Gramian), two on the representation.
@pytest.mark.parametrize("name, rep_grad", [*((name, False) for name in GRADIENT_METHODS),
                                            ("upgrad", True), ("nash_mtl", True)])
def test_one_task_trains_on_its_own_gradient(name, rep_grad, expected):
    model = wrap_lib.wrap(_one_head_model(), representation="hidden" if rep_grad else None)
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE),
                  loss={"only": "sparse_categorical_crossentropy"}, weighting=name,
                  rep_grad=rep_grad)
    images, labels = _data()
    history = model.fit(images, {"only": labels}, batch_size=8, epochs=1, verbose=0)
    if name != "imtl" and "only_weight" in history.history:  # IMTL's loss scale starts at 1
        assert history.history["only_weight"] == [pytest.approx(1.0)]
    for variable, value in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(variable.numpy(), value, rtol=1e-5, atol=1e-6)
