"""Callbacks of a run: learning-rate logging, TensorBoard, history.csv, checkpoints."""

import os

import keras
from keras import ops


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current learning rate to the epoch logs, as `learning_rate`.

    Placed before the TensorBoard and CSV loggers so that both record it.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))


def make_callbacks(workdir, monitor):
    """Returns the callbacks that write a run's logs and checkpoints into `workdir`.

    Args:
      workdir: the run's output folder.
      monitor: the validation metric that picks the best checkpoint, e.g.
        "val_fine_accuracy", or None when there is no validation split.
    """
    checkpoints = os.path.join(workdir, "checkpoints")
    callbacks = [
        LearningRateLogger(),
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard"), write_graph=False),
        keras.callbacks.CSVLogger(os.path.join(workdir, "history.csv")),
        keras.callbacks.ModelCheckpoint(os.path.join(checkpoints, "last.keras")),
    ]
    if monitor:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, "best.keras"), monitor=monitor, mode="max",
            save_best_only=True))
    return callbacks
