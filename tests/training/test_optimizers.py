"""Learning-rate schedules and the optimizers' weight-decay exclusions."""

import keras
import pytest

from mtl_keras.config import Config
from mtl_keras.models import build
from mtl_keras.tasks import Task
from mtl_keras.training import optimizers


def _values(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_warmup_cosine():
    schedule = optimizers.WarmupCosine(peak=1.0, total_steps=100, warmup_steps=10)
    # warm-up: (step + 1) / 10; then cosine over the remaining 90 steps, half way at step 55.
    assert _values(schedule, [0, 4, 9, 10, 55, 100, 150]) == pytest.approx(
        [0.1, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0], abs=1e-6)
    assert _values(optimizers.WarmupCosine(2.0, 10, 0), [0, 5, 10]) == pytest.approx(
        [2.0, 1.0, 0.0], abs=1e-6)


def test_one_cycle():
    schedule = optimizers.OneCycle(peak=1.0, total_steps=100)
    # rise from 1/25 to 1 over 30 steps, then fall to 1/2500 over 70.
    assert _values(schedule, [0, 15, 30, 65, 100, 200]) == pytest.approx(
        [0.04, 0.52, 1.0, 0.5002, 0.0004, 0.0004], abs=1e-6)


def test_make_schedule_follows_the_config():
    cosine = optimizers.make_schedule(Config(epochs=4, warmup_epochs=0.5, learning_rate=0.2), 10)
    assert isinstance(cosine, optimizers.WarmupCosine)
    assert (cosine.peak, cosine.total_steps, cosine.warmup_steps) == (0.2, 40, 5)
    one_cycle = optimizers.make_schedule(Config(schedule="onecycle", epochs=3), 7)
    assert isinstance(one_cycle, optimizers.OneCycle) and one_cycle.total_steps == 21
    assert optimizers.make_schedule(Config(schedule="constant", learning_rate=0.03), 7) == 0.03


def test_schedules_serialise():
    for schedule in (optimizers.WarmupCosine(0.1, 50, 5), optimizers.OneCycle(0.1, 50)):
        restored = keras.optimizers.schedules.deserialize(
            keras.optimizers.schedules.serialize(schedule))
        assert type(restored) is type(schedule)
        assert restored.get_config() == schedule.get_config()


@pytest.mark.parametrize("name,kind", [("sgd", keras.optimizers.SGD),
                                       ("adamw", keras.optimizers.AdamW)])
def test_weight_decay_spares_biases_and_normalization(name, kind):
    model = build.build_model((Task("label", 3),), "resnet20", (32, 32, 3), [0.5] * 3, [0.2] * 3)
    optimizer = optimizers.make_optimizer(
        Config(optimizer=name, learning_rate=0.1, weight_decay=0.1), 10)
    assert isinstance(optimizer, kind)
    optimizer.build(model.trainable_variables)
    decayed = {variable.path.rsplit("/", 1)[-1]: optimizer._use_weight_decay(variable)
               for variable in model.trainable_variables}
    assert decayed["kernel"] is True
    assert decayed["bias"] is False and decayed["gamma"] is False and decayed["beta"] is False
    if name == "sgd":
        assert optimizer.nesterov and optimizer.momentum == 0.9


def test_settings_left_to_the_size_rule_must_be_resolved_first():
    with pytest.raises(ValueError, match="resolve the config with size_rule.resolve first"):
        optimizers.make_optimizer(Config(), 10)
    with pytest.raises(ValueError, match="resolve the config with size_rule.resolve first"):
        optimizers.make_optimizer(Config(optimizer="sgd"), 10)
