"""TensorBoard event files of a run's epoch logs: `train/` and `validation/`, one scalar
`epoch_<name>` per log entry and epoch (the layout of Keras' TensorBoard callback).

The run's saved state holds the epoch logs; a resumed run rewrites the event files from
them (`rewrite`), so that TensorBoard shows each epoch once, whatever the interruptions.
"""

import math
import os
import shutil

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api


class EpochScalars:
    """Writes epoch logs into `folder/train` and `folder/validation`."""

    def __init__(self, folder):
        self.folder = folder
        self._writers = {}

    def rewrite(self, history):
        """Removes the epoch scalars' event files and writes the logs of `history` (epochs
        1, 2, ...: counted as the logs and history.csv count them)."""
        self.close()
        for group in ("train", "validation"):
            shutil.rmtree(os.path.join(self.folder, group), ignore_errors=True)
        for epoch, logs in enumerate(history, 1):
            self.write(epoch, logs)

    def write(self, epoch, logs):
        """Writes the logs of `epoch` (1-based): `val_X` into validation/ as `epoch_X`, the rest into train/."""
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


def hparam_value(value):
    """A config value as the HParams dashboard takes it: a bool, number or string."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)


def write_run_summary(folder, config, heads, step):
    """Registers the run with the HParams dashboard: its settings as hyperparameters (in
    `folder`), its test metrics as `test_<head>_<metric>` scalars (in `folder/test`).

    Args:
      folder: the run's tensorboard/ folder.
      config: {setting: value}, e.g. `Config.to_dict()`.
      heads: {head: {metric: value}}, as in metrics.json.
      step: the step of the metric scalars (the number of epochs).
    """
    settings = {name: hparam_value(value) for name, value in config.items() if name != "workdir"}
    writer = tf.summary.create_file_writer(folder)
    with writer.as_default():
        hparams_api.hparams(settings, trial_id=os.path.basename(os.path.dirname(folder)))
    writer.close()
    writer = tf.summary.create_file_writer(os.path.join(folder, "test"))
    with writer.as_default():
        for head, values in heads.items():
            for metric, value in values.items():
                if value is not None and math.isfinite(value) and metric != "examples":
                    tf.summary.scalar(f"test_{head}_{metric}", value, step=step)
    writer.close()
