"""Callbacks of a run: epoch logs (learning rate, time), TensorBoard, history.csv, checkpoints."""

import os
import time

import keras
from keras import ops


class EpochLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate (`learning_rate`) and the epoch's wall time
    in seconds, validation included (`epoch_seconds`), to the epoch logs.

    Placed before the TensorBoard and CSV loggers so that both record them.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
            logs["epoch_seconds"] = round(time.perf_counter() - self.start, 2)


class ProgressLogger(keras.callbacks.Callback):
    """Prints a progress line at most every `interval_seconds`, and one per epoch.

    For logs written to a file, where Keras' progress bar is unreadable: a long epoch
    still shows its step, speed and time left.
    """

    def __init__(self, epochs, steps_per_epoch, batch_size, interval_seconds=60.0):
        super().__init__()
        self.epochs, self.steps, self.batch_size = epochs, steps_per_epoch, batch_size
        self.interval_seconds = interval_seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_start = self.last_print = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if now - self.last_print >= self.interval_seconds:
            self.last_print = now
            rate = (batch + 1) * self.batch_size / (now - self.epoch_start)
            left = (self.steps - batch - 1) * self.batch_size / rate
            print(f"epoch {self.epoch + 1}/{self.epochs} step {batch + 1}/{self.steps} "
                  f"loss={(logs or {}).get('loss', float('nan')):.4f} {rate:.0f} img/s, "
                  f"epoch ends in {left / 60:.1f} min", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        shown = {key: value for key, value in (logs or {}).items()
                 if key not in ("learning_rate", "epoch_seconds")}
        print(f"epoch {epoch + 1}/{self.epochs} done in {time.perf_counter() - self.epoch_start:.0f} s: "
              + " ".join(f"{key}={value:.4f}" for key, value in sorted(shown.items())), flush=True)


def make_callbacks(workdir, monitor):
    """Returns the callbacks that write a run's logs and checkpoints into `workdir`.

    Args:
      workdir: the run's output folder.
      monitor: (validation metric, "max" or "min") that picks the best checkpoint, e.g.
        ("val_fine_accuracy", "max"), or None when there is no validation split.
    """
    checkpoints = os.path.join(workdir, "checkpoints")
    callbacks = [
        EpochLogger(),
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard"), write_graph=False),
        keras.callbacks.CSVLogger(os.path.join(workdir, "history.csv")),
        keras.callbacks.ModelCheckpoint(os.path.join(checkpoints, "last.keras")),
    ]
    if monitor:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "best.keras"), monitor=monitor[0], mode=monitor[1],
            save_best_only=True))
    return callbacks


def best_checkpoint_monitor(task):
    """The validation metric of `task` that picks the best checkpoint, and its direction."""
    if task.kind == "regression":
        return f"val_{task.name}_mae", "min"
    return f"val_{task.name}_accuracy", "max"
