"""TensorBoard event files of a run's epoch logs: `train/` and `validation/`, one scalar
`epoch_<name>` per log entry and epoch (the layout of Keras' TensorBoard callback).

The run's saved state holds the epoch logs; a resumed run rewrites the event files from
them (`rewrite`), so that TensorBoard shows each epoch once, whatever the interruptions.
"""

import math
import os
import shutil

import tensorflow as tf


class EpochScalars:
    """Writes epoch logs into `folder/train` and `folder/validation`."""

    def __init__(self, folder):
        self.folder = folder
        self._writers = {}

    def rewrite(self, history):
        """Removes the event files and writes the logs of `history` (epochs 0, 1, ...)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        for epoch, logs in enumerate(history):
            self.write(epoch, logs)

    def write(self, epoch, logs):
        """Writes one epoch's logs: `val_X` into validation/ as `epoch_X`, the rest into train/."""
        groups = {"train": {}, "validation": {}}
        for name, value in logs.items():
            if value is None or not math.isfinite(value):
                continue
            if name.startswith("val_"):
                groups["validation"][name[len("val_"):]] = value
            else:
                groups["train"][name] = value
        for group, values in groups.items():
            if not values:
                continue
            writer = self._writer(group)
            with writer.as_default():
                for name, value in values.items():
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
            writer.flush()

    def _writer(self, group):
        if group not in self._writers:
            self._writers[group] = tf.summary.create_file_writer(os.path.join(self.folder, group))
        return self._writers[group]

    def close(self):
        """Closes the event files."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
