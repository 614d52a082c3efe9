"""Where a run's wall time goes: its phases, from the process's start to metrics.json.

A run marks the end of each phase as it passes it; `Phases.seconds()` gives metrics.json's
`phases` object. The phases, in order:

- `start_up`: the process's start to the run's start (the interpreter, the imports, TensorFlow);
  for a later run in a process that already trained one, from the moment given to
  `next_run_starts_at` (a study's worker: when the run's command reached it), else 0;
- `data`: loading, decoding and checking the data;
- `build`: building and compiling the model, making the input pipelines;
- `first_step`: the first training step (tracing the step, and resuming a saved state);
- `training`: the other steps, with every epoch's validation and checkpoints;
- `after_training`: saving model.keras, predicting the test split's views, the reports.

and their sums: `to_first_step` (the first four), `overhead` (`to_first_step` and
`after_training`: what the run costs besides training) and `total`.
"""

import os
import time

import keras

from mtl_keras import startup

MARKS = ("started", "prepared", "built", "first_step", "trained", "finished")
PHASES = ("start_up", "data", "build", "first_step", "training", "after_training")
_first_run = True  # only a process's first run counts the process's start-up as its own
_next_start = None  # where the next run's start-up begins, when the process was told


def process_start():
    """When this process started, on the `time.perf_counter` clock.

    Linux gives the start in /proc/self/stat, in clock ticks after boot (the clock that
    CLOCK_BOOTTIME reads); elsewhere the earliest moment the package noted
    (`startup.IMPORTED`) stands in for it.
    """
    try:
        with open("/proc/self/stat", encoding="utf-8") as stat:
            # The command's name, in parentheses, may hold spaces: count fields after it.
            fields = stat.read().rpartition(")")[2].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return startup.IMPORTED
    return time.perf_counter() - age


def next_run_starts_at(moment):
    """Makes the next run's `start_up` begin at `moment` (on `time.perf_counter`), unless it
    is the process's first run, whose start-up is the process's."""
    global _next_start  # noqa: PLW0603
    _next_start = moment


class Phases:
    """The moments a run passed the end of each phase (`MARKS`), on `time.perf_counter`."""

    def __init__(self):
        global _first_run, _next_start  # noqa: PLW0603  (one process start, counted once)
        if _first_run:
            self.start = process_start()
        else:
            self.start = time.perf_counter() if _next_start is None else _next_start
        _first_run, _next_start = False, None
        self.marks = {}

    def mark(self, name):
        """Notes that the run reached `name` (one of `MARKS`); the first time counts."""
        self.marks.setdefault(name, time.perf_counter())

    def seconds(self):
        """{phase: seconds, rounded to 0.01}; a phase whose ends were not both noted (a run
        resumed after its last step trains no step) is None, and so are the sums it is in."""
        moments = [self.start, *(self.marks.get(name) for name in MARKS)]
        spans = {phase: _span(begin, end)
                 for phase, begin, end in zip(PHASES, moments, moments[1:])}
        to_first_step = _span(self.start, self.marks.get("first_step"))
        after = spans["after_training"]
        overhead = (None if to_first_step is None or after is None
                    else round(to_first_step + after, 2))
        return {**spans, "to_first_step": to_first_step, "overhead": overhead,
                "total": _span(self.start, self.marks.get("finished"))}


def _span(begin, end):
    return None if begin is None or end is None else round(max(end - begin, 0.0), 2)


class FirstStep(keras.callbacks.Callback):
    """Marks the end of the first training step of the process."""

    def __init__(self, phases):
        super().__init__()
        self.phases = phases

    def on_train_batch_end(self, batch, logs=None):
        if "first_step" not in self.phases.marks:
            self.phases.mark("first_step")
