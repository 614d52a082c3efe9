"""Callbacks of a run's epoch logs: learning rate and time, head names; divergence."""

import math
import time

import keras
from keras import ops


class EpochLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate (`learning_rate`) and the epoch's wall time
    in seconds, validation included (`epoch_seconds`), to the epoch logs.

    Placed before the callbacks that record the logs. `resumed` (a `run_state.Progress`)
    makes the epoch it stopped in count the time already spent in it.
    """

    def __init__(self, resumed=None):
        super().__init__()
        self.resumed = resumed
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        if self.resumed is not None and epoch == self.resumed.epoch and self.resumed.step:
            self.start -= self.resumed.epoch_seconds
            self.resumed = None

    def elapsed(self):
        """Seconds since the epoch in progress began."""
        return time.perf_counter() - self.start

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
            logs["epoch_seconds"] = round(self.elapsed(), 2)


class HeadNames(keras.callbacks.Callback):
    """Gives a single head's logs the names they have with several heads.

    Keras names a one-output model's metrics `accuracy`, `val_accuracy`... and logs no
    per-head loss; with this callback first, every later callback, history.csv and
    TensorBoard see `fine_accuracy`, `val_fine_accuracy` and `fine_loss`, as for a model
    of several heads. With several heads it does nothing.
    """

    def __init__(self, tasks, loss_weights):
        super().__init__()
        self.task = tasks[0] if len(tasks) == 1 else None
        self.weight = loss_weights[self.task.name] if self.task else 1.0

    def _rename(self, logs):
        if self.task is None or logs is None:
            return
        name = self.task.name
        for prefix in ("", "val_"):
            for metric in self.task.metric_names:
                if prefix + metric in logs:
                    logs[f"{prefix}{name}_{metric}"] = logs.pop(prefix + metric)
            # The model's own head loss, when it logs one, is the mean over the epoch's known
            # labels; the total is the mean of the steps' totals, which differs when the
            # steps hold different numbers of known labels.
            head_loss = f"{prefix}{name}_loss"
            if prefix + "loss" in logs and self.weight > 0 and head_loss not in logs:
                logs[head_loss] = float(logs[prefix + "loss"]) / self.weight

    def on_train_batch_end(self, batch, logs=None):
        self._rename(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._rename(logs)


class Divergence:
    """Finds a diverged run in a step's logs: a head whose training loss is NaN or
    infinite, or has grown past `max_growth` times its first value.

    A run can blow up without a NaN: a loss of 1e23 is finite, and methods that divide by a
    gradient's norm keep it so. A head's first value is its first positive, finite loss
    seen by this process (a resumed run starts again from its first step). `max_growth` 0:
    no limit on growth. With a single head and only the total loss logged, the total is
    the head's.
    """

    def __init__(self, head_names, max_growth):
        self.head_names, self.max_growth = tuple(head_names), max_growth
        self.first = {}

    def _losses(self, logs):
        keys = {name: f"{name}_loss" for name in self.head_names if f"{name}_loss" in logs}
        if not keys and "loss" in logs:
            keys = {name: "loss" for name in self.head_names}
        return {name: float(logs[key]) for name, key in keys.items()}

    def find(self, logs):
        """None, or (what happened, as a clause; the remedy beside a lower learning rate)."""
        losses = self._losses(logs)
        nonfinite = {name: value for name, value in losses.items() if not math.isfinite(value)}
        if not nonfinite and not math.isfinite(float(logs.get("loss", 0.0))):
            nonfinite = losses  # only the total overflowed: every head took part
        if nonfinite:
            return (f"the training loss of {_heads(nonfinite, '{value:g}')} became non-finite",
                    "look at that head's labels and loss")
        grown = {}
        for name, value in losses.items():
            if value > 0:
                first = self.first.setdefault(name, value)
                if self.max_growth and value > self.max_growth * first:
                    grown[name] = (value, first)
        if grown:
            return (f"the training loss of {_heads(grown, '{value[0]:.3g}, first {value[1]:.3g}')} "
                    f"grew past --max_loss_growth={self.max_growth:g} times its first value",
                    "raise --max_loss_growth (0: no limit)")
        return None


def _heads(values, template):
    """'head fine (TEMPLATE)' or 'heads fine (...), coarse (...)' for {head: value}."""
    listed = ", ".join(f"{name} ({template.format(value=value)})" for name, value in values.items())
    return f"head{'s' if len(values) > 1 else ''} {listed}"


def best_checkpoint_monitor(task):
    """The validation metric of `task` that picks the best checkpoint, and its direction:
    accuracy (max) where the head reports it, else MAE (min), else the head's loss (min)."""
    if "accuracy" in task.metric_names:
        return f"val_{task.name}_accuracy", "max"
    if "mae" in task.metric_names:
        return f"val_{task.name}_mae", "min"
    return f"val_{task.name}_loss", "min"
