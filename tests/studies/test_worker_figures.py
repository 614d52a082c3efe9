"""Runs trained one after another in one worker process give the figures (metrics.json,
data.json, history.csv) that each gives in a process of its own: another method, another
seed (other synthetic images: the kept dataset must not be taken) and other precision; and
so do they when SIGTERM stopped the study in its first run and its rerun resumed it."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

from mtl_keras import flagfiles
from mtl_keras.studies import planning
from mtl_keras.studies import runner
from mtl_keras.studies import worker

TINY = ["--dataset=cifar100", "--synthetic", "--synthetic_examples=256", "--validation_size=32",
        "--trunk=simple_cnn", "--batch_size=32", "--epochs=2", "--deterministic",
        "--progress_seconds=0"]
# (weighting, seed, extra flags), in the order one worker trains them.
RUNS = [("equal", 0, ["--mixed_precision=true"]), ("upgrad", 1, ["--mixed_precision=false"])]
TIMES = ("wall_seconds", "phases")  # where the wall time went: not a figure


def _plan(folder, tmp_path):
    runs = []
    for index, (weighting, seed, extra) in enumerate(RUNS):
        flagfile = tmp_path / f"tiny{index}.flags"
        flagfile.write_text("\n".join([*TINY, f"--weighting={weighting}", *extra]) + "\n")
        settings = [(str(flagfile), flagfiles.read_flagfile(str(flagfile)))]
        runs += planning.plan(settings, [seed], str(folder), None)
    return runs


def _figures(workdir):
    metrics = json.loads((workdir / "metrics.json").read_text())
    with open(workdir / "history.csv", encoding="utf-8") as history:
        rows = [{name: value for name, value in row.items() if name != "epoch_seconds"}
                for row in csv.DictReader(history)]
    return ({name: value for name, value in metrics.items() if name not in TIMES},
            json.loads((workdir / "data.json").read_text()), rows)


def _stop_in_first_run(folder, tmp_path):
    """Runs the study in a process of its own and stops it by SIGTERM once its first run
    trained an epoch; returns the study's status."""
    script = (f"import sys, pathlib; sys.path.insert(0, {os.path.dirname(__file__)!r});"
              f"import test_worker_figures as t; from mtl_keras.studies import runner;"
              f"sys.exit(runner.run_study(t._plan(pathlib.Path({str(folder)!r}), "
              f"pathlib.Path({str(tmp_path)!r})), {str(folder)!r}, sys.executable))")
    study = subprocess.Popen([sys.executable, "-c", script])  # noqa: S603
    try:
        first = folder / "tiny0-seed0"
        deadline = time.time() + 180
        while time.time() < deadline and not (first / "history.csv").exists():
            time.sleep(0.1)
        study.send_signal(signal.SIGTERM)
        return study.wait(timeout=120)
    finally:
        study.kill()


def test_runs_in_one_worker_equal_runs_in_their_own_processes(tmp_path):
    shared, own = tmp_path / "worker", tmp_path / "own"
    assert _stop_in_first_run(shared, tmp_path) == 143
    assert not (shared / "tiny0-seed0" / "metrics.json").exists()
    assert (shared / "tiny0-seed0" / "checkpoints" / "state.json").exists()  # saved, resumed
    assert not (shared / "tiny1-seed0").exists()  # the study stopped with its first run
    assert runner.run_study(_plan(shared, tmp_path), str(shared), sys.executable,
                            log=lambda line: None) == 0
    assert runner.run_study(_plan(own, tmp_path), str(own), sys.executable,
                            log=lambda line: None, reuse_process=False) == 0
    for planned in _plan(own, tmp_path):
        name = planned.workdir.rsplit("/", 1)[1]
        assert _figures(shared / name) == _figures(own / name), name
        phases = json.loads((shared / name / "metrics.json").read_text())["phases"]
        assert phases["total"] > 0


def test_the_worker_puts_back_the_global_state_a_run_changes():
    import keras  # noqa: PLC0415
    from tensorflow.python.framework import config as tf_config  # noqa: PLC0415, PLC2701

    # Another test of this process may have turned determinism on: start from it off.
    deterministic = tf_config.is_op_determinism_enabled()
    tf_config.disable_op_determinism()
    try:
        baseline = worker.Baseline()
        try:
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
            keras.config.set_floatx("float16")
            tf_config.enable_op_determinism()
            keras.layers.Dense(1)
        finally:
            # No garbage collection: in the suite's process it walks every test's objects.
            baseline.restore(free_memory=False)
        assert keras.config.dtype_policy().name == "float32"
        assert keras.config.floatx() == "float32"
        assert not tf_config.is_op_determinism_enabled()
        assert keras.layers.Dense(1).name == "dense"  # layer names count from 0 again
    finally:
        if deterministic:
            tf_config.enable_op_determinism()
