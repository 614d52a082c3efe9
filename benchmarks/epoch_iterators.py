"""Epoch wall times with a new training iterator per epoch, and with one for the whole fit.

    python benchmarks/epoch_iterators.py --flagfile=experiments/fashion_mnist_mtl.flags \
        [--epochs=8] [--rounds=2] [--flag=value ...]

Builds the run as `mtl_keras.run` does (`preparation.prepare`, `train.build_and_compile`,
`train.make_datasets`) and trains a new model for `--epochs` epochs in two ways, alternately,
`--rounds` times:

- `per_epoch`: `model.fit(train)` on the finite training set, so Keras makes a new iterator
  (and tf.data its threads and buffers) at the start of every epoch;
- `repeated`: `model.fit(train.repeat(), steps_per_epoch=...)`, one iterator for the whole fit
  (what `train.train_and_evaluate` does).

Prints one JSON line per fit (its epoch times in seconds), then one per way, leaving out
each fit's first epoch (it also traces the step function): the median epoch, how many
epochs were more than 25 % slower than the median of both ways together, and the median and
largest time from the start of an epoch to the end of its first training step. Any
`mtl_keras.run` flag applies (`--epochs`, default 8, also sets the schedule's length); the
run uses no validation split.
"""

import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import keras  # noqa: E402

from mtl_keras.cli import training_flags  # noqa: E402
from mtl_keras.training import callbacks as callbacks_lib  # noqa: E402
from mtl_keras.training import preparation  # noqa: E402
from mtl_keras.training import train  # noqa: E402

flags.DEFINE_integer("rounds", 2, "Fits of each way, alternated.")
FLAGS = flags.FLAGS
training_flags.define(FLAGS)  # the training flags, as `mtl-keras train` has them
WAYS = ("per_epoch", "repeated")


class _FirstStepClock(keras.callbacks.Callback):
    """Records, for each epoch, the time from its start to the end of its first training step."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.seconds.append(time.perf_counter() - self.start)


def _fit(experiment, way):
    """Trains a new model one way; returns its epoch times and first-step times (seconds)."""
    model, _ = train.build_and_compile(experiment)
    training, _, _ = train.make_datasets(experiment)
    clock = _FirstStepClock()
    fit_args = dict(epochs=experiment.config.epochs, verbose=0, shuffle=False,
                    callbacks=[callbacks_lib.EpochLogger(), clock])
    if way == "repeated":
        history = model.fit(training.repeat(), steps_per_epoch=experiment.steps_per_epoch,
                            **fit_args)
    else:
        history = model.fit(training, **fit_args)
    return history.history["epoch_seconds"], clock.seconds


def main(argv):
    del argv
    FLAGS.validation_size = 0
    if not FLAGS["epochs"].present:
        FLAGS.epochs = 8
    config = training_flags.to_config(FLAGS)
    fits = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as workdir:
        experiment = preparation.prepare(config, workdir)
        for round_index in range(FLAGS.rounds):
            for way in WAYS:
                fits[way].append(_fit(experiment, way))
                print(json.dumps({"round": round_index + 1, "way": way, "epoch_seconds":
                                  [round(s, 1) for s in fits[way][-1][0]]}), flush=True)
    # The first epoch of a fit also traces the step function: leave it out.
    epochs = {way: [s for times, _ in fits[way] for s in times[1:]] for way in WAYS}
    first = {way: [s for _, times in fits[way] for s in times[1:]] for way in WAYS}
    slow_above = 1.25 * statistics.median(epochs[WAYS[0]] + epochs[WAYS[1]])
    for way in WAYS:
        print(json.dumps({
            "way": way, "epochs_timed": len(epochs[way]),
            "median_epoch_seconds": round(statistics.median(epochs[way]), 1),
            "slow_epochs": sum(s > slow_above for s in epochs[way]),
            "slow_above_seconds": round(slow_above, 1),
            "median_first_step_seconds": round(statistics.median(first[way]), 2),
            "max_first_step_seconds": round(max(first[way]), 2)}))


if __name__ == "__main__":
    app.run(main)
