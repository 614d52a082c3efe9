"""Resume after SIGKILL and SIGTERM in the middle of an epoch: the same final model, metrics
and history as a run never stopped; SIGINT's one line and exit status; no damaged file."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras.models.build  # noqa: F401  (registers the custom layers for loading)
import mtl_keras.heads.losses  # noqa: F401
import mtl_keras.training.optimizers  # noqa: F401

from mtl_keras.training import run_state
from mtl_keras.training import strategy as strategy_lib

from helpers import REPO, error_lines

STEPS_PER_EPOCH = 18  # (640 - 64) / 32
FLAGS = ["--synthetic", "--synthetic_examples=640", "--validation_size=64", "--trunk=simple_cnn",
         "--epochs=3", "--batch_size=32", "--deterministic", "--checkpoint_minutes=1e-9"]


def _command(workdir):
    return [sys.executable, "-m", "mtl_keras.run", *FLAGS, f"--workdir={workdir}"]


def _environment():
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(workdir):
    return subprocess.run(_command(workdir), env=_environment(), capture_output=True, text=True,
                          timeout=300)


def _saved_step(workdir):
    """Training steps done at the last saved state, or -1."""
    try:
        with open(workdir / "checkpoints" / "state.json", encoding="utf-8") as index:
            state = json.load(index)
    except (OSError, ValueError):
        return -1
    return state["epoch"] * state["steps_per_epoch"] + state["step"]


def _stop_after(workdir, global_step, signal_number):
    """Starts the run, sends `signal_number` once its state passed `global_step`; returns
    (exit status, stderr)."""
    process = subprocess.Popen(_command(workdir), env=_environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while _saved_step(workdir) < global_step and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()[-3000:]
            time.sleep(0.02)
        process.send_signal(signal_number)
        return process.wait(timeout=120), process.stderr.read()
    finally:
        process.kill()


def _history(workdir):
    with open(workdir / "history.csv", encoding="utf-8") as history:
        return [{key: float(value) for key, value in row.items() if key != "epoch_seconds"}
                for row in csv.DictReader(history)]


def _epochs_in_tensorboard(folder, tag):
    steps = []
    for name in sorted(os.listdir(folder)):
        for event in tf.compat.v1.train.summary_iterator(str(folder / name)):
            steps += [event.step for value in event.summary.value if value.tag == tag]
    return sorted(steps)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The same run never stopped, started at once in a process of its own, which runs
    beside the stopped runs (on the other core while they start); calling the fixture's
    value waits for it and returns its folder."""
    folder = tmp_path_factory.mktemp("resume")
    workdir = folder / "uninterrupted"
    with open(folder / "stderr.txt", "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(_command(workdir), env=_environment(),
                                   stdout=subprocess.DEVNULL, stderr=stderr)

    def finished():
        status = process.wait(timeout=300)
        assert status == 0, (folder / "stderr.txt").read_text()[-3000:]
        return workdir

    yield finished
    process.kill()
    process.wait()


def test_killed_and_stopped_runs_resume_to_the_same_result(uninterrupted, tmp_path):
    workdir = tmp_path / "run"
    status, _ = _stop_after(workdir, STEPS_PER_EPOCH + 4, signal.SIGKILL)
    assert status == -signal.SIGKILL
    killed_at = _saved_step(workdir)
    assert STEPS_PER_EPOCH < killed_at < 2 * STEPS_PER_EPOCH  # in the middle of epoch 2
    assert not (workdir / "metrics.json").exists()
    for name in ("config.json", "checkpoints/state.json"):
        json.loads((workdir / name).read_text())  # whole, strict JSON
    keras.saving.load_model(workdir / "checkpoints" / "last.keras")  # whole

    # Resumed, then stopped again by SIGTERM in the middle of the last epoch.
    status, stderr = _stop_after(workdir, 2 * STEPS_PER_EPOCH + 5, signal.SIGTERM)
    assert status == 143
    line = error_lines(stderr)[-1]
    assert line.startswith("stopped by SIGTERM at epoch 3, step ")
    assert line.endswith(f"; its state is saved in {workdir / 'checkpoints'}; rerun the same command to resume.")
    assert 2 * STEPS_PER_EPOCH < _saved_step(workdir) < 3 * STEPS_PER_EPOCH

    result = _run(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from epoch 3, step " in result.stdout
    uninterrupted = uninterrupted()
    expected = json.loads((uninterrupted / "metrics.json").read_text())
    resumed = json.loads((workdir / "metrics.json").read_text())
    assert resumed["heads"] == expected["heads"]  # identical, not merely close
    assert resumed["hierarchy_consistency"] == expected["hierarchy_consistency"]
    for mine, theirs in zip(keras.saving.load_model(workdir / "model.keras").get_weights(),
                            keras.saving.load_model(uninterrupted / "model.keras").get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    # Each epoch once in history.csv and TensorBoard, with the figures of the run never
    # stopped (an epoch resumed in its middle averages over all its steps too).
    history, expected_history = _history(workdir), _history(uninterrupted)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    for row, expected_row in zip(history, expected_history):
        assert row == pytest.approx(expected_row, rel=1e-6)
    for group, tag in (("train", "epoch_fine_loss"), ("validation", "epoch_fine_accuracy")):
        assert _epochs_in_tensorboard(workdir / "tensorboard" / group, tag) == [1, 2, 3]
    assert not list((workdir / "checkpoints").glob("state*"))  # a finished run keeps no state


def test_sigint_stops_with_one_line_and_status_130(tmp_path):
    workdir = tmp_path / "run"
    status, stderr = _stop_after(workdir, 3, signal.SIGINT)
    assert status == 130
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("stopped by SIGINT at epoch 1, step ")
    assert lines[0].endswith("; rerun the same command to resume.")
    assert not (workdir / "metrics.json").exists() and not (workdir / "model.keras").exists()


@pytest.mark.parametrize("devices", [None, ["/cpu:0", "/cpu:1"]], ids=["default", "mirrored"])
def test_state_restores_variables_and_metrics_exactly(tmp_path, devices):
    from mtl_keras import tasks as tasks_lib
    from mtl_keras.models import build
    from mtl_keras.training import compile as compile_lib
    from mtl_keras.training import run_state

    strategy = strategy_lib.mirrored_strategy(devices) if devices else tf.distribute.get_strategy()
    tasks = [tasks_lib.Task(name, num_classes=10) for name in ("fine", "coarse")]

    def make_model():
        with strategy.scope():
            model = build.build_model(tasks, "simple_cnn", (8, 8, 3), [0.5] * 3, [0.25] * 3)
            compile_lib.compile_model(model, tasks, keras.optimizers.SGD(0.01, momentum=0.9),
                                      {"fine": 1.0, "coarse": 0.5}, False)
        return model

    rng = np.random.default_rng(0)
    spec = (tf.TensorSpec((None, 8, 8, 3), tf.uint8),
            {name: tf.TensorSpec((None,), tf.int32) for name in ("fine", "coarse")})
    # Values of a run in its middle, made up (no training step: a second strategy's
    # collectives in one process can mismatch): weights, optimizer slots and step, metrics.
    trained = make_model()
    with strategy.scope():
        trained._symbolic_build(data_batch=spec)
    for variable in [*trained.variables, *trained.optimizer.variables, *trained.metrics_variables]:
        variable.assign(rng.integers(1, 50, variable.shape).astype(variable.dtype))
    trained.optimizer.iterations.assign(4)
    run_state.save(str(tmp_path), trained, run_state.Progress(step=4, steps_per_epoch=8))
    _, index = run_state.load(str(tmp_path))
    restored = make_model()
    run_state.restore_model(str(tmp_path), restored, index, spec)
    run_state.restore_metrics(str(tmp_path), restored, index)
    for group in ("variables", "metrics_variables"):
        for mine, theirs in zip(getattr(restored, group), getattr(trained, group)):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    for mine, theirs in zip(restored.optimizer.variables, trained.optimizer.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert int(restored.optimizer.iterations.numpy()) == 4  # the schedule's position


def test_a_resumed_epoch_counts_the_time_already_spent_in_it(monkeypatch):
    """The epoch a run resumes in its middle logs, as epoch_seconds, the time of its steps
    before the stop (saved with the state) plus the time since; the epochs after it, their
    own time only. (The resumed runs above leave epoch_seconds out of their comparison.)"""
    from mtl_keras.training import callbacks

    now = [1000.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: now[0])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.25), loss="mse")
    clock = callbacks.EpochLogger(resumed=run_state.Progress(
        epoch=2, step=5, steps_per_epoch=9, epoch_seconds=40.0))
    clock.set_model(model)
    seconds = []
    for epoch, duration in ((2, 12.0), (3, 8.0)):
        clock.on_epoch_begin(epoch)
        now[0] += duration
        logs = {}
        clock.on_epoch_end(epoch, logs)
        seconds.append(logs["epoch_seconds"])
        assert logs["learning_rate"] == 0.25
    assert seconds == [52.0, 8.0]
    fresh = callbacks.EpochLogger(resumed=run_state.Progress(epoch=2, steps_per_epoch=9))
    fresh.on_epoch_begin(2)
    now[0] += 5.0
    assert fresh.elapsed() == 5.0  # resumed at an epoch's end: nothing to add
