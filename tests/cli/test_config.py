"""Config validation, --loss_weights parsing and resolving loss weights against the heads."""

import math

import pytest

from mtl_keras import errors
from mtl_keras.config import CHOICES, Config, format_numbers, parse_loss_weights
from mtl_keras.tasks import Task
from mtl_keras.training.compile import resolve_loss_weights


def test_defaults_are_valid():
    config = Config()
    assert config.dataset == "cifar100"
    assert config.experiment_name == "cifar100_resnet20"
    assert Config(experiment="mine").experiment_name == "mine"


@pytest.mark.parametrize("field", sorted(CHOICES))
def test_bad_enum_value_is_refused(field):
    with pytest.raises(errors.UserError) as error:
        Config(**{field: "bogus"})
    message = str(error.value)
    assert f"--{field}=bogus" in message
    for choice in CHOICES[field]:
        assert choice in message


@pytest.mark.parametrize("field", sorted(CHOICES))
def test_every_enum_choice_is_accepted(field):
    for choice in CHOICES[field]:
        assert getattr(Config(**{field: choice}), field) == choice


@pytest.mark.parametrize("field,value", [
    ("epochs", 0), ("epochs", -3), ("batch_size", -1), ("synthetic_examples", 0),
])
def test_counts_must_be_at_least_one(field, value):
    with pytest.raises(errors.UserError, match=f"--{field} must be at least 1"):
        Config(**{field: value})


@pytest.mark.parametrize("field", ["learning_rate", "momentum", "weight_decay", "warmup_epochs"])
def test_negative_numbers_are_refused(field):
    with pytest.raises(errors.UserError, match=f"--{field} must not be negative"):
        Config(**{field: -0.5})


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan])
def test_random_erasing_must_be_a_probability(value):
    with pytest.raises(errors.UserError, match="--random_erasing is a probability between 0 and 1"):
        Config(random_erasing=value)
    assert Config(random_erasing=1.0).random_erasing == 1.0


def test_negative_test_shift_is_refused():
    with pytest.raises(errors.UserError, match="--test_shift is a number of pixels, 0 or more"):
        Config(test_shift=-1)
    assert Config(test_shift=0).test_shift == 0


def test_settings_left_to_the_dataset_size_are_checked():
    # 0 (-1 for --validation_size) means "chosen by the dataset's size" (size_rule).
    assert Config(learning_rate=0.0, batch_size=0, validation_size=-1).batch_norm_momentum == 0
    with pytest.raises(errors.UserError, match="--validation_size must be 0 or more"):
        Config(validation_size=-2)
    for momentum in (-0.1, 1.0, math.nan):
        with pytest.raises(errors.UserError, match="--batch_norm_momentum must be at least 0 "
                                                   "and below 1"):
            Config(batch_norm_momentum=momentum)


def test_warmup_longer_than_training_is_refused():
    with pytest.raises(errors.UserError, match="--warmup_epochs=5.0 is longer than --epochs=4"):
        Config(epochs=4, warmup_epochs=5.0)
    assert Config(epochs=4, warmup_epochs=4.0).warmup_epochs == 4.0


def test_negative_loss_weight_is_refused():
    with pytest.raises(errors.UserError, match="^--loss_weights gives head 'coarse' the weight "
                                               "-0.1; a loss weight is a finite number, 0 or more"):
        Config(loss_weights={"fine": 1.0, "coarse": -0.1})


def test_config_is_frozen_and_serialisable():
    config = Config(loss_weights={"fine": 1.0})
    with pytest.raises(Exception):
        config.epochs = 3  # frozen dataclass
    as_dict = config.to_dict()
    assert as_dict["loss_weights"] == {"fine": 1.0}
    assert Config(**as_dict) == config


@pytest.mark.parametrize("text,expected", [
    ("fine=1.0,coarse=0.5", {"fine": 1.0, "coarse": 0.5}),
    (" fine = 2 , coarse=0.25 ", {"fine": 2.0, "coarse": 0.25}),
    ("fine=1e-1,", {"fine": 0.1}),
    ("", {}),
])
def test_parse_loss_weights_good(text, expected):
    weights = parse_loss_weights(text)
    assert weights == expected
    assert all(isinstance(value, float) for value in weights.values())
    assert list(weights) == list(expected)  # order kept


@pytest.mark.parametrize("text,fragment", [
    ("fine=abc", "'fine=abc' is not NAME=NUMBER"),
    ("fine", "'fine' is not NAME=NUMBER"),
    ("=1.0", "'=1.0' is not NAME=NUMBER"),
    ("fine=1.0,coarse", "'coarse' is not NAME=NUMBER"),
    ("fine=1,fine=2", "names head 'fine' twice"),
    ("fine=1, fine =2", "names head 'fine' twice"),
])
def test_parse_loss_weights_bad(text, fragment):
    with pytest.raises(errors.UserError) as error:
        parse_loss_weights(text)
    assert fragment in str(error.value)


def test_format_numbers_is_the_exact_inverse_of_parse():
    weights = {"fine": 1.0, "coarse": 0.5, "extra": 0.001, "third": 1 / 3}
    assert parse_loss_weights(format_numbers(weights)) == weights
    assert format_numbers({"fine": 1.0, "coarse": 0.5}) == "fine=1.0,coarse=0.5"


TASKS = (Task("fine", 100), Task("coarse", 20, weight=0.3))


def test_resolve_loss_weights_defaults_to_the_tasks_own_weights():
    assert resolve_loss_weights(TASKS, {}) == {"fine": 1.0, "coarse": 0.3}


def test_resolve_loss_weights_overrides_named_heads_only():
    assert resolve_loss_weights(TASKS, {"coarse": 0.5}) == {"fine": 1.0, "coarse": 0.5}
    assert resolve_loss_weights(TASKS, {"fine": 2.0, "coarse": 0.0}) == {"fine": 2.0, "coarse": 0.0}


def test_resolve_loss_weights_unknown_head():
    with pytest.raises(errors.UserError) as error:
        resolve_loss_weights(TASKS, {"fine": 1.0, "superclass": 0.5, "animal": 1.0})
    message = str(error.value)
    assert "--loss_weights names animal, superclass" in message
    assert "the heads are fine, coarse" in message


@pytest.mark.parametrize("kwargs", [
    {"learning_rate": math.nan},
    {"loss_weights": parse_loss_weights("fine=nan")},
], ids=["learning_rate=nan", "loss_weights=fine=nan"])
def test_nan_is_refused(kwargs):
    try:
        Config(**kwargs)
    except errors.UserError:
        return
    raise AssertionError(f"Config({kwargs}) was accepted")
