"""What a person sees of a run: short rounded epoch lines counted as history.csv and
TensorBoard count, progress with rate and time left, early stopping (also across a stop
and resume), and a report with a title and a confusion matrix with counts per head."""

import contextlib
import csv
import io
import json
import os
import re
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras.reporting import figures
from mtl_keras.reporting import report
from mtl_keras.studies import runner as study_runner
from mtl_keras.training import progress
from mtl_keras.training import runner
from mtl_keras.training import signals

PATIENCE = 2
STEPS = 7  # (512 - 64 validation) / 64
SETTINGS = {"dataset": "fashion_mnist", "synthetic": True, "synthetic_examples": 512,
            "validation_size": 64, "trunk": "lenet", "epochs": 8, "batch_size": 64,
            "deterministic": True, "early_stopping_patience": PATIENCE, "warmup_epochs": 0.0,
            "checkpoint_minutes": 0.0,
            # The trajectory the expected epochs below were read from (deterministic, in
            # bfloat16): "auto" would choose by the machine.
            "mixed_precision": "true"}


class _StopInEpoch(signals.StopRequest):
    """SIGINT as the training loop sees it at step `step` of epoch `epoch` (1-based): the
    run reads `signal_number` once when its data is ready, then after each step and after
    each epoch."""

    def __init__(self, epoch, step):
        self._reads = 1 + (epoch - 1) * (STEPS + 1) + step
        super().__init__()

    @property
    def signal_number(self):
        self._reads -= 1
        return signal.SIGINT if self._reads < 0 else None

    @signal_number.setter
    def signal_number(self, value):
        del value


@pytest.fixture(scope="module")
def stopped_and_resumed(tmp_path_factory):
    """A run with early stopping (it stops after epoch 4, its validation accuracy best at
    epoch 2), stopped by SIGINT in epoch 4 and resumed; its printed output."""
    workdir = str(tmp_path_factory.mktemp("early") / "run")
    config = config_lib.Config(**SETTINGS, workdir=workdir)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        keras.backend.clear_session()
        with pytest.raises(errors.Interrupted, match="stopped by SIGINT at epoch 4, step 3 of 7"):
            runner.train(config, stop=_StopInEpoch(4, 2))
        keras.backend.clear_session()
        run = runner.train(config)
    return workdir, run, output.getvalue()


def _history(workdir):
    with open(os.path.join(workdir, "history.csv"), encoding="utf-8") as history:
        return list(csv.DictReader(history))


def test_early_stopping_stops_where_the_history_says_and_keeps_the_best(stopped_and_resumed):
    """Stops once PATIENCE epochs pass without a higher validation accuracy of the first
    head; ends with the best epoch's weights. The state saved at the end of epoch 3 held one
    epoch without improvement: a counter lost on resuming would stop one epoch later."""
    workdir, run, _ = stopped_and_resumed
    scores = [float(row["val_fine_accuracy"]) for row in _history(workdir)]
    best, best_epoch, stale, stopped = -1.0, None, 0, None
    for epoch, score in enumerate(scores, 1):
        best, best_epoch, stale = (score, epoch, 0) if score > best else (best, best_epoch,
                                                                            stale + 1)
        if stale == PATIENCE:
            stopped = epoch
            break
    assert stopped == len(scores) == 4 and best_epoch == 2  # the example stops, not at the end
    with open(os.path.join(workdir, "metrics.json"), encoding="utf-8") as written:
        record = json.load(written)
    assert record["early_stopping"] == {"patience": PATIENCE, "monitor": "val_fine_accuracy",
                                        "direction": "max", "best": best,
                                        "best_epoch": best_epoch, "stopped_epoch": stopped}
    assert (record["epochs"], record["epochs_trained"]) == (8, 4)
    final = run.model.get_weights()
    kept = keras.saving.load_model(os.path.join(workdir, "checkpoints", "best.keras")).get_weights()
    last = keras.saving.load_model(os.path.join(workdir, "checkpoints", "last.keras")).get_weights()
    for mine, expected in zip(final, kept):
        np.testing.assert_array_equal(mine, expected)
    assert any(not np.array_equal(mine, other) for mine, other in zip(final, last))
    with open(os.path.join(workdir, "report.md"), encoding="utf-8") as written:
        text = written.read()
    assert "trained 4 of 8 epochs: early stopping (patience 2) kept epoch 2" in text


def test_epoch_lines_are_short_rounded_and_counted_as_history_and_tensorboard(
        stopped_and_resumed):
    workdir, _, output = stopped_and_resumed
    lines = [line for line in output.splitlines() if re.match(r"epoch \d+/8 \| ", line)]
    # Epochs 1-3 before the stop, 4 after resuming: each once, 1-based.
    assert [int(line.split()[1].split("/")[0]) for line in lines] == [1, 2, 3, 4]
    assert [int(row["epoch"]) for row in _history(workdir)] == [1, 2, 3, 4]
    steps = set()
    for name in os.listdir(os.path.join(workdir, "tensorboard", "validation")):
        for event in tf.compat.v1.train.summary_iterator(
                os.path.join(workdir, "tensorboard", "validation", name)):
            steps |= {event.step for value in event.summary.value
                      if value.tag == "epoch_fine_accuracy"}
    assert steps == {1, 2, 3, 4}
    history = _history(workdir)
    for line, row in zip(lines, history):
        assert len(line) < 160
        fields = line.split(" | ")
        assert fields[2] == f"loss {float(row['loss']):#.4g} (val {float(row['val_loss']):#.4g})"
        assert fields[3:] == [f"{head} accuracy {float(row[head + '_accuracy']):#.4g} "
                              f"(val {float(row['val_' + head + '_accuracy']):#.4g})"
                              for head in ("fine", "mid", "coarse")]
    assert " strategy=default " in output and "_Default" not in output
    assert re.search(r"test metrics: fine: accuracy \d\.\d{3}\d*, top5_accuracy [\d.]{5,6};",
                     output)
    assert "resuming from the end of epoch 3" not in output  # stopped in epoch 4, step 3
    assert "resuming from epoch 4, step 3 of 7" in output


def test_early_stopping_needs_a_validation_split(tmp_path):
    with pytest.raises(errors.UserError, match="--early_stopping_patience=2 watches the "
                       "validation split, and this run has none"):
        runner.train(**{**SETTINGS, "validation_size": 0}, workdir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    with pytest.raises(errors.UserError, match="--early_stopping_patience is a number of epochs"):
        config_lib.Config(early_stopping_patience=-1)


def test_progress_lines_in_a_file_and_a_bar_on_a_terminal():
    lines = io.StringIO()
    meter = progress.Meter("epoch 2/5", 40, items=64, interval_seconds=1e-9, stream=lines,
                           first=10)
    meter.update(10, "loss 0.5000")
    (line,) = lines.getvalue().splitlines()
    assert re.fullmatch(r"epoch 2/5 step 20/40, [\d,]+ img/s, .+ left, loss 0.5000", line), line
    screen = io.StringIO()
    bar = progress.Meter("test split", 4, interval_seconds=60, stream=screen, terminal=True)
    bar.update(2)
    bar.close()
    drawn = screen.getvalue()
    assert drawn.startswith("\rtest split [============>...........] step 2/4, ")
    assert drawn.endswith("\r\x1b[K")  # the bar is cleared for the summary line
    assert [progress.duration(s) for s in (0.42, 42, 187, 3727)] == [
        "0.4 s", "42 s", "3:07", "1:02:07"]


def test_confusion_counts_and_most_confused_pairs():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    guesses = np.array([0, 1, 1, 1, 2, 2, 0, 0, 0, 2])
    matrix = figures.confusion_matrix(labels, guesses, 3)
    figure = figures.plt.figure()
    axes = figure.add_subplot()
    figures.draw_confusion(axes, matrix, ("a", "b", "c"), "head", counts=True)
    cells = {(round(text.get_position()[1]), round(text.get_position()[0])): text.get_text()
             for text in axes.texts}
    # Row = true class, column = predicted, by hand: a→a 1, a→b 2, b→b 1, b→c 1, c→a 3, c→c 2.
    assert cells == {(0, 0): "1", (0, 1): "2", (1, 1): "1", (1, 2): "1", (2, 0): "3",
                     (2, 2): "2"}
    figures.plt.close(figure)
    assert figures.most_confused(matrix, ("a", "b", "c"), 2) == [("c", "a", 3), ("a", "b", 2)]


def test_report_title_and_figures():
    results = {"dataset": "fashion_mnist", "synthetic": True, "epochs": 3, "epochs_trained": 3,
               "heads": {"fine": {"accuracy": 0.91234567}}}
    assert report.title("runs/x-1", results).startswith("x-1: fashion_mnist, synthetic (made-up) ")
    assert report.metric_lines(results) == ["fine: accuracy 0.9123"]
    assert report.significant(1.0) == "1.000" and report.significant(12345.6) == "1.235e+04"


@pytest.mark.parametrize("epochs", [1, 2, 12])
def test_the_curves_epoch_axis_shows_whole_epochs(epochs):
    figure, axes = figures.plt.subplots()
    report._curves(axes, [{"loss": 1.0 / (epoch + 1)} for epoch in range(epochs)], "loss", "fine")
    figure.canvas.draw()
    low, high = axes.get_xlim()
    shown = [tick for tick in axes.get_xticks() if low <= tick <= high]
    figures.plt.close(figure)
    assert shown and all(float(tick).is_integer() for tick in shown), shown


def test_a_study_says_run_i_of_n_elapsed_and_time_left():
    clock = study_runner.StudyClock(3)
    assert clock.describe().endswith("time left known after the first run")
    clock.start -= 60  # the first run took a minute: two more take about two
    clock.done()
    assert clock.describe() == "elapsed 1:00, about 2:00 left"
