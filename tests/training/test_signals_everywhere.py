"""SIGINT and SIGTERM stop a run in every phase with their status (130, 143), a state to
resume from and no half-written file: during validation, during test-time prediction,
while a record cache is written, and when the code the signal interrupted swallowed its
exception (as a generator being closed or an object being destroyed does: Python prints
"Exception ignored" and goes on).

Real signals are sent to this process from inside the phase (a hook around a function
the phase calls); the run is the entry point's, in this process."""

import os
import signal

import labelled_folder
from helpers import error_lines
from helpers import run_main

from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras.data import pipeline
from mtl_keras.data.images import record_cache
from mtl_keras.training import inspection
from mtl_keras.training import run_state

TINY = ["--synthetic", "--synthetic_examples=384", "--validation_size=64", "--trunk=simple_cnn",
        "--batch_size=64", "--epochs=2"]


def _send(number, swallow=False):
    """Sends `number` to this process; with `swallow`, as code that drops the exception
    its handler raises."""
    try:
        os.kill(os.getpid(), number)
    except errors.Interrupted:
        if not swallow:
            raise


def _hooked(function, number, swallow=False):
    sent = []

    def hook(*args, **kwargs):
        if not sent:
            sent.append(number)
            _send(number, swallow)
        return function(*args, **kwargs)
    return hook


def _stopped(run_flags, capsys, workdir, flags, status):
    """Runs the tiny run into `workdir`; checks its status, its one line, and that it wrote
    no result; returns the line."""
    assert run_main(run_flags, *TINY, *flags, f"--workdir={workdir}") == status
    lines = [line for line in error_lines(capsys.readouterr().err)
             if not line.startswith("[mtl_keras]") and not line.startswith("epoch ")]
    assert len(lines) == 1 and lines[0].startswith("stopped by SIG"), lines
    assert not (workdir / "metrics.json").exists()
    return lines[0]


def test_a_signal_during_test_prediction_stops_and_the_rerun_finishes(
        run_flags, tmp_path, capsys, monkeypatch):
    workdir = tmp_path / "run"
    # Swallowed where it lands: only the run's own check can stop it.
    monkeypatch.setattr(pipeline, "test_views",
                        _hooked(pipeline.test_views, signal.SIGTERM, swallow=True))
    line = _stopped(run_flags, capsys, workdir, ["--epochs=1"], 143)
    assert line == (f"stopped by SIGTERM; the last good state, at the end of epoch 1, is saved "
                    f"in {workdir / 'checkpoints'}; rerun the same command to finish the run.")
    progress, _ = run_state.load(str(workdir))
    assert (progress.epoch, progress.step) == (1, 0)
    monkeypatch.undo()
    run_flags.unparse_flags()
    assert run_main(run_flags, *TINY, "--epochs=1", f"--workdir={workdir}") == 0
    assert (workdir / "metrics.json").exists()
    assert not (workdir / "checkpoints" / "state.json").exists()


def test_a_signal_during_validation_stops_after_the_epoch(run_flags, tmp_path, capsys,
                                                          monkeypatch):
    workdir = tmp_path / "run"
    monkeypatch.setattr(inspection.ValidationInspector, "on_epoch_end",
                        _hooked(inspection.ValidationInspector.on_epoch_end, signal.SIGINT))
    line = _stopped(run_flags, capsys, workdir, [], 130)
    assert "the last good state, at the end of epoch 1, is saved in" in line
    progress, _ = run_state.load(str(workdir))
    assert (progress.epoch, progress.step, len(progress.history)) == (1, 0, 1)
    assert (workdir / "history.csv").read_text(encoding="utf-8").count("\n") == 2


def test_a_swallowed_signal_while_the_data_loads_stops_before_writing(
        run_flags, tmp_path, capsys, monkeypatch):
    workdir = tmp_path / "run"
    monkeypatch.setattr(data_lib, "load", _hooked(data_lib.load, signal.SIGINT, swallow=True))
    line = _stopped(run_flags, capsys, workdir, [], 130)
    assert line == "stopped by SIGINT; nothing was trained yet; rerun the same command to start again."
    assert not workdir.exists()


def test_a_signal_while_the_cache_is_written_leaves_no_shard(run_flags, tmp_path, capsys,
                                                             monkeypatch):
    labelled_folder.write(tmp_path / "faces", {"train": 24, "validation": 8, "test": 8})
    cache, workdir = tmp_path / "cache", tmp_path / "run"
    hooked = _hooked(record_cache._write_split, signal.SIGTERM)
    monkeypatch.setattr(record_cache, "_write_split", hooked)
    status = run_main(run_flags, "--dataset=folder", f"--csv={tmp_path / 'faces' / 'labels.csv'}",
                      f"--tasks={labelled_folder.TASKS}", "--image_size=8", "--trunk=simple_cnn",
                      "--batch_size=8", "--epochs=1", "--in_memory=false", f"--cache_dir={cache}",
                      f"--workdir={workdir}")
    assert status == 143
    assert not workdir.exists()
    assert not [name for name in os.listdir(cache) if ".partial" in name or name == "manifest.json"]
