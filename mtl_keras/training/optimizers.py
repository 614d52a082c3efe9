"""Optimizers and learning-rate schedules (warm-up + cosine, one-cycle, constant)."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mtl_keras")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine decay to 0."""

    def __init__(self, peak, total_steps, warmup_steps):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = self.peak * (step + 1.0) / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
        progress = ops.clip(progress, 0.0, 1.0)
        cosine = 0.5 * self.peak * (1.0 + ops.cos(math.pi * progress))
        return ops.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


@keras.saving.register_keras_serializable(package="mtl_keras")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's one-cycle: linear rise from peak/25 to `peak` over 30 % of the steps, then
    linear fall to peak/2500."""

    def __init__(self, peak, total_steps, rise_fraction=0.3):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.rise_fraction = float(rise_fraction)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        rise_steps = max(self.rise_fraction * self.total_steps, 1.0)
        start, end = self.peak / 25.0, self.peak / 2500.0
        rising = start + (self.peak - start) * step / rise_steps
        fall = ops.clip((step - rise_steps) / max(self.total_steps - rise_steps, 1.0), 0.0, 1.0)
        falling = self.peak + (end - self.peak) * fall
        return ops.where(step < rise_steps, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "rise_fraction": self.rise_fraction}


def make_schedule(config, steps_per_epoch):
    """Returns the learning-rate schedule that `config.schedule` names."""
    total_steps = config.epochs * steps_per_epoch
    if config.schedule == "cosine":
        return WarmupCosine(config.learning_rate, total_steps,
                            round(config.warmup_epochs * steps_per_epoch))
    if config.schedule == "onecycle":
        return OneCycle(config.learning_rate, total_steps)
    return config.learning_rate


def make_optimizer(config, steps_per_epoch):
    """Returns the optimizer that `config.optimizer` names, with its schedule.

    Weight decay is decoupled (applied by the optimizer, not added to the loss) and
    spares biases and normalization parameters.

    Raises:
      ValueError: the optimizer or the learning rate is still "auto" (0): `config` must be
        resolved by `size_rule.resolve` first.
    """
    if config.optimizer not in ("sgd", "adamw") or not config.learning_rate > 0:
        raise ValueError(f"optimizer={config.optimizer!r} learning_rate={config.learning_rate}: "
                         f"resolve the config with size_rule.resolve first.")
    schedule = make_schedule(config, steps_per_epoch)
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True,
                                         weight_decay=config.weight_decay or None)
    else:
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    # Cross-stitch mixing weights (models/architectures/cross_stitch.py) are spared too: decay
    # would pull them, and so the features every column passes on, towards 0.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "mixing"])
    return optimizer
