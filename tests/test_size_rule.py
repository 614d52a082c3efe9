"""The settings chosen by the dataset's size: small data, large data, the recipes, flags given."""

import numpy as np
import pytest

from mtl_keras import size_rule
from mtl_keras.config import Config
from mtl_keras.data import source
from mtl_keras.models import batch_norm
from mtl_keras.models import build
from mtl_keras.tasks import Task

from helpers import REPO

# What a run used before these settings were chosen by size: the old Config defaults.
BEFORE = {"validation_size": 5000, "batch_size": 128, "optimizer": "sgd", "learning_rate": 0.1,
          "batch_norm_momentum": 0.99}
# Large-data recipes and their training images (after the validation split). UTKFace:
# 23,708 images, a fifth for testing, 2,000 for validation.
RECIPES = {"fashion_mnist_mtl": 60_000, "fashion_mnist_fine_only": 60_000,
           "cifar100_mtl": 45_000, "cifar100_notebook": 45_000, "faces_example": 16_966}


def _chosen(config, train_examples, validation_examples=0):
    resolved, _ = size_rule.resolve(config, train_examples, validation_examples)
    return {name: getattr(resolved, name) for name in BEFORE}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_large_data_recipes_train_as_before(recipe, run_flags):
    run_flags(["prog", f"--flagfile={REPO / 'experiments' / f'{recipe}.flags'}"])
    config = run_flags.config()
    validation = config.validation_size
    chosen = _chosen(config, RECIPES[recipe], validation)
    assert chosen == {name: getattr(config, name) if run_flags[name].present else before
                      for name, before in BEFORE.items()}


def test_no_flag_on_large_data_is_the_old_default():
    assert size_rule.validation_size(-1, 50_000) == 5000
    assert size_rule.validation_size(-1, 60_000) == 5000
    assert _chosen(Config(), 45_000, 5000) == BEFORE
    assert _chosen(Config(), 12_800, 1422)["optimizer"] == "sgd"


def test_small_data():
    assert size_rule.validation_size(-1, 1109) == 110
    # 999 training images: batch 32 (31 steps per epoch), AdamW, averages over 31 steps.
    assert _chosen(Config(), 999, 110) == {"validation_size": 110, "batch_size": 32,
                                           "optimizer": "adamw", "learning_rate": 0.002,
                                           "batch_norm_momentum": round(1 - 1 / 31, 4)}
    assert _chosen(Config(), 12_799)["optimizer"] == "adamw"
    assert _chosen(Config(), 3840)["batch_size"] == 128
    assert _chosen(Config(), 3839)["batch_size"] == 64
    assert _chosen(Config(), 1919)["batch_size"] == 32
    assert _chosen(Config(), 40)["batch_norm_momentum"] == 0.5  # 1 step per epoch


def test_flags_given_are_kept():
    chosen = _chosen(Config(optimizer="sgd", batch_size=64), 999)
    # SGD's learning rate follows the batch (0.1 per 128); momentum spans 15 steps.
    assert chosen["learning_rate"] == pytest.approx(0.05)
    assert chosen["batch_norm_momentum"] == round(1 - 1 / 15, 4)
    given = Config(validation_size=0, batch_size=16, optimizer="adamw", learning_rate=0.01,
                   batch_norm_momentum=0.9)
    resolved, chosen = size_rule.resolve(given, 999)
    assert resolved == given and chosen == {}


def test_validation_carved_by_the_rule():
    split = source.Split(np.zeros((100, 2, 2, 1), np.uint8), {"label": np.arange(100)})
    train, validation = source.carve_validation(split, -1)
    assert (len(train), len(validation)) == (90, 10)


def test_batch_norm_momentum_reaches_every_layer():
    model = build.build_model((Task("label", 3),), "resnet20", (32, 32, 3), [0.5] * 3, [0.2] * 3,
                              batch_norm_momentum=0.875)
    layers = [layer for layer in model.layers
              if isinstance(layer, batch_norm.FusedBatchNormalization)]
    assert len(layers) == 19 and {layer.momentum for layer in layers} == {0.875}
    assert layers[0].get_config()["momentum"] == 0.875  # saved with the model
    with pytest.raises(ValueError, match="resolve the config with size_rule.resolve first"):
        build.build_model((Task("label", 3),), "resnet20", (32, 32, 3), [0.5] * 3, [0.2] * 3,
                          batch_norm_momentum=0.0)
