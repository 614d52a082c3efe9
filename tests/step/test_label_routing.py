"""Each head is trained on its own labels (and weighted by its own loss weight).

Two heads with the same number of classes, "left" and "right": the brightness of an
image's left half encodes the left label, that of the right half the right label, drawn
independently. A model whose labels were routed to the wrong head would learn each head
to predict the other head's labels, which these tests tell apart.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.config import Config
from mtl_keras.data import pipeline
from mtl_keras.data.source import Split, channel_statistics
from mtl_keras.models import build
from mtl_keras.tasks import Task
from mtl_keras.training import compile as compile_lib
from mtl_keras.training import optimizers
from mtl_keras.training import strategy as strategy_lib

CLASSES = 4
SHAPE = (8, 8, 3)
# Listed "right" first: the model's output order then differs from the sorted order Keras
# uses internally to flatten dicts, so a positional mix-up would show.
TASKS = (Task("right", CLASSES), Task("left", CLASSES))


def _halves(count, seed):
    rng = np.random.default_rng(seed)
    left, right = rng.integers(0, CLASSES, count), rng.integers(0, CLASSES, count)
    images = np.empty((count,) + SHAPE, np.int64)
    images[:, :, :4] = (30 + 60 * left)[:, None, None, None]
    images[:, :, 4:] = (30 + 60 * right)[:, None, None, None]
    images += rng.integers(-12, 13, images.shape)
    return Split(images.astype(np.uint8), {"left": left, "right": right})


def _train(strategy, loss_weights, epochs=5, count=1024, batch_size=64):
    keras.utils.set_random_seed(0)
    train = _halves(count, seed=1)
    config = Config(optimizer="adamw", learning_rate=3e-3, weight_decay=0.0, schedule="constant",
                    warmup_epochs=0, epochs=epochs, batch_size=batch_size)
    mean, std = channel_statistics(train.images)
    with strategy.scope():
        model = build.build_model(TASKS, "simple_cnn", SHAPE, mean, std)
        optimizer = optimizers.make_optimizer(config, count // batch_size)
        compile_lib.compile_model(model, TASKS, optimizer,
                                  compile_lib.resolve_loss_weights(TASKS, loss_weights),
                                  jit_compile=False)
    initial = {task.name: model.get_layer(task.name).get_weights() for task in TASKS}
    dataset = pipeline.make_dataset(train, batch_size, training=True, seed=0, augment=False)
    history = model.fit(dataset, epochs=epochs, verbose=0, shuffle=False)
    return model, initial, history


def _accuracy(model, split, head, labels):
    probabilities = model.predict(split.images, verbose=0)[head]
    return float(np.mean(probabilities.argmax(axis=1) == split.labels[labels]))


STRATEGIES = {
    "default": lambda: tf.distribute.get_strategy(),
    "mirrored-2-cpus": lambda: strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]),
}


@pytest.mark.parametrize("strategy_name", sorted(STRATEGIES))
def test_each_head_learns_its_own_labels(strategy_name):
    strategy = STRATEGIES[strategy_name]()
    assert strategy.num_replicas_in_sync == (2 if strategy_name.startswith("mirrored") else 1)
    model, _, history = _train(strategy, {})
    assert {"left_accuracy", "right_accuracy", "left_loss", "right_loss"} <= set(history.history)
    test = _halves(512, seed=2)
    assert _accuracy(model, test, "left", "left") > 0.9
    assert _accuracy(model, test, "right", "right") > 0.9
    # Against the other head's labels, each head is no better than chance (1/4).
    assert _accuracy(model, test, "left", "right") < 0.4
    assert _accuracy(model, test, "right", "left") < 0.4
    assert history.history["left_accuracy"][-1] > 0.9
    assert history.history["right_accuracy"][-1] > 0.9


def test_loss_weight_reaches_the_head_it_names():
    """With --loss_weights=right=0 the right head gets no gradient: Adam leaves its weights
    exactly as initialised, while the left head trains."""
    model, initial, _ = _train(tf.distribute.get_strategy(), {"right": 0.0, "left": 1.0})
    for before, after in zip(initial["right"], model.get_layer("right").get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(before, after) for before, after in
               zip(initial["left"], model.get_layer("left").get_weights()))
    test = _halves(512, seed=2)
    assert _accuracy(model, test, "left", "left") > 0.9
