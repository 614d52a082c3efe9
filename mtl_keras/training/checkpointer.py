"""The callback that keeps a run resumable and its outputs whole.

After every step it checks that the loss is finite and has not grown past
`max_loss_growth` times its first value (else the run stops: `Diverged`) and
whether a signal asked the run to stop (it saves the state, then `Interrupted`); every
`interval_seconds` in an epoch it saves the state. After every epoch it records the logs
(history.csv and TensorBoard, rewritten from the saved history so that no row is lost or
doubled), writes `checkpoints/best.keras` when the monitored score improved, then
`checkpoints/last.keras` and the state, and with a patience, stops training when the score
has not improved for that many epochs (early stopping; the counter is in the state, so a
resumed run counts on). Every file is written atomically. Epochs are counted from 1 in
history.csv and TensorBoard, as in the logs.
"""

import csv
import dataclasses
import io
import math
import os
import time

import keras

from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras.reporting import tensorboard
from mtl_keras.training import callbacks as callbacks_lib
from mtl_keras.training import run_state
from mtl_keras.training import signals


class Checkpointer(keras.callbacks.Callback):
    """Saves a run's state and checkpoints, stops it on divergence and on signals.

    Args:
      workdir: this process's output folder (history.csv, tensorboard/, checkpoints/).
      run_dir: the folder whose `checkpoints/` hold the run's state (the chief's).
      saves_state: whether this process saves the state (a multi-worker run's other
        workers only read the chief's).
      head_names: the model's heads, to name those whose loss diverged.
      max_loss_growth: a head's training loss above this many times its first value
        stops the run (`callbacks.Divergence`); 0 for no limit.
      monitor: (validation log key, "max" or "min") for best.keras, or None.
      progress: the `run_state.Progress` to start from (saved history, best score, step).
      resume_index: the saved state's index (`run_state.load`) when resuming, else None.
      clock: the run's `callbacks.EpochLogger`, whose epoch time the state keeps.
      interval_seconds: seconds between saves of the state within an epoch; 0 for none.
      stop: the `signals.StopRequest` of the process.
      patience: epochs without improvement of `monitor` after which training stops; 0: never.
    """

    def __init__(self, workdir, run_dir, saves_state, head_names, monitor, progress,
                 resume_index, clock, interval_seconds, stop=None, max_loss_growth=0.0,
                 patience=0):
        super().__init__()
        self.patience = patience
        self.workdir, self.run_dir, self.saves_state = workdir, run_dir, saves_state
        self.resume_index = resume_index
        self.monitor = monitor
        self.progress, self.clock = progress, clock
        self.interval_seconds = interval_seconds
        self.stop = stop or signals.StopRequest()
        self.divergence = callbacks_lib.Divergence(head_names, max_loss_growth)
        self.scalars = tensorboard.EpochScalars(os.path.join(workdir, "tensorboard"))
        # The last state saved: the one resumed from, then this process's own saves.
        self.saved = progress if resume_index is not None else None
        if self.saved is not None:
            self.stop.where = f"{self.where_saved()}; rerun the same command to resume."
        self._offset = 0
        self._history_written = False
        self._last_save = time.monotonic()

    def on_train_begin(self, logs=None):
        if not self._history_written:  # a resumed epoch and the epochs after it: two fits
            self.scalars.rewrite(self.progress.history)
            self._write_history()
            self._history_written = True
        self.stop.deferred = True

    def on_epoch_begin(self, epoch, logs=None):
        self._offset = self.progress.step if epoch == self.progress.epoch else 0
        if self._offset and self.resume_index is not None:
            # Keras has just reset the metrics: give back the epoch's first steps.
            run_state.restore_metrics(self.run_dir, self.model, self.resume_index)
        self.progress = dataclasses.replace(self.progress, epoch=epoch, step=self._offset)

    def on_train_batch_end(self, batch, logs=None):
        self.progress = dataclasses.replace(self.progress, step=self._offset + batch + 1)
        diverged = self.divergence.find(logs or {})
        if diverged:
            what, remedy = diverged
            raise errors.Diverged(
                f"{what} at {self.progress.describe()}; {self.where_saved()}; lower "
                f"--learning_rate and pass a new --workdir, or {remedy}.")
        if self.stop.signal_number is not None:
            self._save_state()
            folder = os.path.join(self.run_dir, run_state.FOLDER)
            raise errors.Interrupted(
                f"stopped by {signals.NAMES[self.stop.signal_number]} at "
                f"{self.progress.describe()}; its state is saved in {folder}; rerun the same "
                f"command to resume.", self.stop.signal_number)
        if (self.interval_seconds and time.monotonic() - self._last_save >= self.interval_seconds
                and self.progress.step < self.progress.steps_per_epoch):
            self._save_state()

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: float(value) for key, value in (logs or {}).items()}
        progress = self.progress
        best, best_epoch, stale = progress.best, progress.best_epoch, progress.stale_epochs
        if self.monitor and self.monitor[0] in logs:
            stale += 1
            if self._improves(logs[self.monitor[0]]):
                best, best_epoch, stale = logs[self.monitor[0]], epoch + 1, 0
                fileio.save_model(self.model, self._checkpoint("best.keras"))
        stopped = epoch + 1 if self.patience and stale >= self.patience else None
        fileio.save_model(self.model, self._checkpoint("last.keras"))
        self.progress = dataclasses.replace(
            progress, epoch=epoch + 1, step=0, best=best, best_epoch=best_epoch,
            stale_epochs=stale, stopped_epoch=stopped, history=(*progress.history, logs))
        self._save_state()
        self._write_history()
        self.scalars.write(epoch + 1, logs)
        if stopped:
            self.model.stop_training = True
        if self.stop.signal_number is not None:  # it came during validation or saving
            raise errors.Interrupted(f"stopped by {signals.NAMES[self.stop.signal_number]}; "
                                     f"{self.stop.where}", self.stop.signal_number)

    def on_train_end(self, logs=None):
        self.stop.where = f"{self.where_saved()}; rerun the same command to finish the run."

    def _improves(self, value):
        if value is None or not math.isfinite(value):
            return False
        best = self.progress.best
        return best is None or (value > best if self.monitor[1] == "max" else value < best)

    def _checkpoint(self, name):
        return os.path.join(self.workdir, run_state.FOLDER, name)

    def _save_state(self):
        self._last_save = time.monotonic()
        if not self.saves_state:
            return
        progress = dataclasses.replace(self.progress, epoch_seconds=round(self.clock.elapsed(), 2))
        if progress.step == 0:
            progress = dataclasses.replace(progress, epoch_seconds=0.0)
        run_state.save(self.run_dir, self.model, progress)
        self.saved = progress
        self.stop.where = f"{self.where_saved()}; rerun the same command to resume."

    def where_saved(self):
        """Where the run's last good state is, as a clause of a sentence."""
        if self.saved is None:
            return "no state was saved before that"
        folder = os.path.join(self.run_dir, run_state.FOLDER)
        return f"the last good state, at {self.saved.describe()}, is saved in {folder}"

    def _write_history(self):
        """history.csv: one row per finished epoch (from 1), from the saved history."""
        history = self.progress.history
        columns = ["epoch", *sorted({key for logs in history for key in logs})]
        text = io.StringIO()
        writer = csv.DictWriter(text, columns, lineterminator="\n")
        writer.writeheader()
        for epoch, logs in enumerate(history, 1):
            writer.writerow({"epoch": epoch, **logs})
        fileio.write_text(os.path.join(self.workdir, "history.csv"), text.getvalue())
