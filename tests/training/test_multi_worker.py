"""Multi-worker training: two worker processes on loopback, TF_CONFIG, identical weights."""

import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import REPO, free_ports
import faces_data
from mtl_keras import errors
from mtl_keras.training import strategy as strategy_lib

_ROOT = str(REPO)


EXAMPLES = 512  # 8 steps of 64 per epoch


def _command(workdir, *extra, validation_size=0):
    return [sys.executable, "-m", "mtl_keras.run", "--strategy=multi_worker",
            "--synthetic", f"--synthetic_examples={EXAMPLES}",
            f"--validation_size={validation_size}", "--trunk=simple_cnn", "--epochs=2",
            "--batch_size=64", "--optimizer=adamw", "--learning_rate=0.002",
            "--mixed_precision=false", f"--workdir={workdir}", *extra]


def _start_workers(command, cwd):
    """Starts one process per worker of a two-worker loopback cluster."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        # Without TF_CPP_MIN_LOG_LEVEL, as users start it: TensorFlow starts quietly first.
        env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
        env.update(TF_CONFIG=json.dumps(tf_config), PYTHONPATH=_ROOT)
        processes.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    return processes


def _finish(processes):
    outputs = []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=300)[0])
        finally:
            process.kill()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
    return outputs


def _assert_identical_weights(workdir):
    import keras

    import mtl_keras.models.build  # noqa: F401  (registers the custom layers)
    import mtl_keras.heads.losses  # noqa: F401

    chief = keras.saving.load_model(workdir / "model.keras", compile=False)
    other = keras.saving.load_model(workdir / "worker-1" / "model.keras", compile=False)
    for mine, theirs in zip(chief.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def _history(folder):
    with open(folder / "history.csv", encoding="utf-8") as history:
        return list(csv.DictReader(history))


def _record_cache_command(folder):
    """Writes a folder of 320 faces into `folder`; the command that trains two workers on
    it, streamed through a record cache written in `folder / "cache"`."""
    rows = faces_data.write_csv_folder(folder / "faces", count=320)
    # Splits of whole global batches: a worker left with an empty last test batch fails
    # in prediction (in memory too; see experiments/README.md, "Data larger than memory").
    for number, row in enumerate(rows):
        row["split"] = "train" if number < 192 else "validation" if number < 256 else "test"
    faces_data.write_rows(folder / "faces" / "labels.csv", rows, (*faces_data.FIELDS, "split"))
    command = _command(folder / "run", "--dataset=folder",
                       f"--csv={folder / 'faces' / 'labels.csv'}",
                       "--tasks=gender:binary,race:multiclass", "--image_size=16",
                       "--in_memory=false", f"--cache_dir={folder / 'cache'}",
                       "--epochs=3", "--noaugment", validation_size=64)
    command.remove("--synthetic")
    return command


@pytest.fixture(scope="module")
def gradient_method_run(tmp_path_factory):
    """Two workers training with PCGrad: (the run's folder, each worker's output)."""
    folder = tmp_path_factory.mktemp("multi_worker")
    outputs = _finish(_start_workers(_command(folder / "run", "--weighting=pcgrad"), folder))
    return folder / "run", outputs


def test_two_workers_train_in_step_and_end_with_identical_weights(gradient_method_run):
    workdir, outputs = gradient_method_run
    assert "replicas=2" in outputs[0]
    # The chief (worker 0) writes the run's folder; worker 1 a folder of its own inside it.
    chief = json.loads((workdir / "metrics.json").read_text())
    other = json.loads((workdir / "worker-1" / "metrics.json").read_text())
    # The same weights score the same test images alike.
    assert chief["heads"] == other["heads"] and chief["test_views"] == other["test_views"] == 1
    # Each worker sees only its half of every batch: equal weights mean the gradients were
    # summed across the workers at every step. (The loss-level path, --weighting=equal, ends
    # with identical weights in the two tests below.)
    _assert_identical_weights(workdir)
    rows = _history(workdir)
    assert len(rows) == 2 and float(rows[1]["loss"]) < float(rows[0]["loss"])  # it learned


def test_a_gradient_method_trains_over_two_workers_with_identical_weights(gradient_method_run):
    """PCGrad's projections need the task gradients of the whole global batch: each worker
    holds half of every batch, so the step all-reduces the task gradients before the
    Gramian; both workers must take the same projections and end with the same weights."""
    workdir, _ = gradient_method_run
    _assert_identical_weights(workdir)
    rows = _history(workdir)
    assert len(rows) == 2 and float(rows[1]["loss"]) < float(rows[0]["loss"])
    assert rows[0]["gradient_cosine_fine_coarse"] and rows[0]["fine_weight"]


def test_two_workers_train_on_a_sharded_record_cache(tmp_path):
    """Both workers start on an empty --cache_dir (each writes the same shards under
    temporary names), then each reads its own shards (AutoShardPolicy.FILE)."""
    outputs = _finish(_start_workers(_record_cache_command(tmp_path), tmp_path))
    workdir = tmp_path / "run"
    assert "replicas=2" in outputs[0]
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert len(manifest["splits"]["train"]["files"]) == 16
    assert not [name for name in os.listdir(tmp_path / "cache") if ".partial-" in name]
    _assert_identical_weights(workdir)
    rows = _history(workdir)
    assert len(rows) == 3 and float(rows[2]["loss"]) < float(rows[0]["loss"])  # it learned
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["heads"]["gender"]["accuracy"] > 0.8  # gender is painted into the pixels


def _chief_step(workdir):
    try:
        state = json.loads((workdir / "checkpoints" / "state.json").read_text())
    except (OSError, ValueError):
        return -1
    return state["epoch"] * state["steps_per_epoch"] + state["step"]


def test_restarted_workers_resume_from_the_chiefs_state(tmp_path):
    workdir = tmp_path / "run"
    command = _command(workdir, "--checkpoint_minutes=1e-9")
    processes = _start_workers(command, tmp_path)
    steps_per_epoch = EXAMPLES // 64
    try:
        deadline = time.monotonic() + 240
        while _chief_step(workdir) < steps_per_epoch + 3 and time.monotonic() < deadline:
            assert all(process.poll() is None for process in processes)
            time.sleep(0.02)
    finally:
        for process in processes:  # both machines lost at once
            process.kill()
            process.communicate()
    assert steps_per_epoch < _chief_step(workdir) < 2 * steps_per_epoch
    outputs = _finish(_start_workers(command, tmp_path))
    for output in outputs:
        assert "resuming from epoch 2, step " in output
    _assert_identical_weights(workdir)
    assert len(_history(workdir)) == 2 and len(_history(workdir / "worker-1")) == 2


def test_multi_worker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(errors.UserError, match="needs the TF_CONFIG variable"):
        strategy_lib.make_strategy("multi_worker")
    for text in ("not json", '{"cluster": {"worker": ["a:1"]}}',
                 '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}'):
        monkeypatch.setenv("TF_CONFIG", text)
        with pytest.raises(errors.UserError, match="does not give a cluster"):
            strategy_lib.read_tf_config()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, '
                                    '"task": {"type": "worker", "index": 1}}')
    assert strategy_lib.read_tf_config() == ("worker", 1)
