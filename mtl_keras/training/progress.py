"""What a person watching a run sees: a progress bar (on a terminal) or a progress line
every few seconds (in a file), and one short line per epoch.

The figures are the same in both: the step, images per second and the time left. The
epoch line holds the loss and each head's main metric, rounded to 4 significant digits;
every figure is in history.csv, TensorBoard and the report. Epochs are counted from 1,
as in history.csv, TensorBoard and report.png.
"""

import sys
import time

import keras

from mtl_keras.reporting import report

BAR_WIDTH = 24


significant = report.significant


def duration(seconds):
    """"0.4 s", "42 s", "3:07" (minutes), "1:02:07" (hours)."""
    if seconds < 9.95:
        return f"{max(seconds, 0):.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Meter:
    """Progress through `total` steps of `items` images each, shown as a bar redrawn in
    place on a terminal, or as a line at most every `interval_seconds` elsewhere.

    Args:
      label: what is progressing, e.g. "epoch 3/10" or "test".
      total: steps to do.
      items: images per step (for the rate), or 0 to show steps per second.
      first: steps done before this process (a resumed epoch), counted as done.
      interval_seconds: elsewhere than a terminal, seconds between lines (0: none).
      stream: where to write (default sys.stdout, looked up when writing).
      terminal: whether `stream` is a terminal (default: asked of the stream).
    """

    def __init__(self, label, total, items=0, interval_seconds=60.0, stream=None, terminal=None,
                 first=0):
        self.label, self.total, self.items = label, max(int(total), 1), items
        self.first = first
        self.interval_seconds = interval_seconds
        self._stream = stream
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.start = self._last = time.perf_counter()
        self._drawn = False

    @property
    def stream(self):
        return self._stream or sys.stdout

    def figures(self, done, now=None):
        """"step 120/469, 3,512 img/s, 1:02 left" for `done` steps (after `first`) done
        `now - start` seconds after the start."""
        elapsed = max((now or time.perf_counter()) - self.start, 1e-9)
        per_second = done / elapsed
        rate = (f"{per_second * self.items:,.0f} img/s" if self.items
                else f"{per_second:.1f} steps/s")
        left = (self.total - self.first - done) / per_second if done else None
        eta = f"{duration(left)} left" if left is not None else "time left unknown"
        return f"step {self.first + done}/{self.total}, {rate}, {eta}"

    def update(self, done, extra=""):
        """Shows that `done` steps are done; `extra` (e.g. "loss 0.4321") follows the figures."""
        now = time.perf_counter()
        extra = f", {extra}" if extra else ""
        if self.terminal:
            if self._drawn and now - self._last < 0.1 and self.first + done < self.total:
                return  # a terminal redrawn 10 times a second is enough
            filled = int(BAR_WIDTH * min(self.first + done, self.total) / self.total)
            bar = "=" * filled + (">" if filled < BAR_WIDTH else "") + "." * (BAR_WIDTH - filled - 1)
            self.stream.write(f"\r{self.label} [{bar[:BAR_WIDTH]}] {self.figures(done, now)}"
                              f"{extra}\x1b[K")
            self.stream.flush()
            self._drawn = True
        elif self.interval_seconds and now - self._last >= self.interval_seconds:
            print(f"{self.label} {self.figures(done, now)}{extra}", file=self.stream, flush=True)
        else:
            return
        self._last = now

    def close(self):
        """Clears the bar from the terminal's line (the caller then prints its summary)."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


def epoch_line(epoch, epochs, logs, tasks, seconds):
    """The line printed after an epoch (1-based `epoch`): its wall time, the loss and each
    head's main metric, with their validation values where there are some."""

    def figure(key):
        value = significant(logs.get(key), 4)
        if f"val_{key}" in logs:
            value += f" (val {significant(logs[f'val_{key}'], 4)})"
        return value

    parts = [f"epoch {epoch}/{epochs}", duration(seconds), f"loss {figure('loss')}"]
    for task in tasks:
        metric = report.main_metric(task)
        if f"{task.name}_{metric}" in logs:
            parts.append(f"{task.name} {metric} {figure(f'{task.name}_{metric}')}")
    return " | ".join(parts)


class TrainingProgress(keras.callbacks.Callback):
    """A bar (terminal) or lines every `interval_seconds` (file) per epoch, then the epoch's
    line (`epoch_line`).

    Args:
      tasks: the run's heads.
      epochs: the run's number of epochs.
      batch_size: the global batch size (for images per second).
      interval_seconds: elsewhere than a terminal, seconds between progress lines.
      steps_per_epoch: steps of a whole epoch; a resumed epoch counts its first steps done.
      stream, terminal: as for `Meter` (tests).
    """

    def __init__(self, tasks, epochs, batch_size, interval_seconds=60.0, steps_per_epoch=None,
                 stream=None, terminal=None):
        super().__init__()
        self.tasks, self.epochs, self.batch_size = tasks, epochs, batch_size
        self.interval_seconds, self.steps_per_epoch = interval_seconds, steps_per_epoch
        self._stream, self._terminal = stream, terminal
        self.meter = None

    def on_epoch_begin(self, epoch, logs=None):
        steps = self.params.get("steps") or self.steps_per_epoch or 1  # this fit's
        whole = max(self.steps_per_epoch or steps, steps)
        # A resumed epoch: its first steps were done before.
        self.meter = Meter(f"epoch {epoch + 1}/{self.epochs}", whole, self.batch_size,
                           self.interval_seconds, self._stream, self._terminal, whole - steps)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        self.meter.update(batch + 1, f"loss {significant(loss, 4)}" if loss is not None else "")

    def on_epoch_end(self, epoch, logs=None):
        self.meter.close()
        logs = logs or {}
        seconds = logs.get("epoch_seconds", time.perf_counter() - self.meter.start)
        print(epoch_line(epoch + 1, self.epochs, logs, self.tasks, seconds),
              file=self.meter.stream, flush=True)


class PredictionProgress(keras.callbacks.Callback):
    """The progress of `model.predict` over `views` passes of `steps` batches each (test-time
    augmentation): a bar on a terminal, a line every `interval_seconds` elsewhere."""

    def __init__(self, label, steps, views=1, batch_size=0, interval_seconds=60.0, stream=None,
                 terminal=None):
        super().__init__()
        self.meter = Meter(label, steps * views, batch_size, interval_seconds, stream, terminal)
        self.steps, self.view = steps, 0

    def on_predict_batch_end(self, batch, logs=None):
        self.meter.update(self.view * self.steps + batch + 1)

    def on_predict_end(self, logs=None):
        self.view += 1

    def close(self):
        """Clears the bar."""
        self.meter.close()
