"""A run's terminal shows the run's own lines, not TensorFlow's C++ start-up lines."""

import os
import subprocess
import sys
import types

import pytest

from helpers import REPO


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs started at once, each a process of its own: "quiet" as a user starts it,
    "loud" with TF_CPP_MIN_LOG_LEVEL=0. {name: its workdir, returncode, stdout and stderr}."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    started = {}
    for name, environment in (("quiet", {}), ("loud", {"TF_CPP_MIN_LOG_LEVEL": "0"})):
        folder = tmp_path_factory.mktemp(name)
        command = [sys.executable, "-m", "mtl_keras.run", "--synthetic",
                   "--synthetic_examples=256", "--validation_size=0", "--trunk=simple_cnn",
                   "--epochs=1", "--batch_size=64", f"--workdir={folder / 'run'}"]
        with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
            started[name] = (folder, subprocess.Popen(
                command, env={**env, "PYTHONPATH": str(REPO), **environment}, cwd=folder,
                stdout=out, stderr=err))
    finished = {}
    for name, (folder, process) in started.items():
        try:
            process.wait(timeout=300)
        finally:
            process.kill()
        finished[name] = types.SimpleNamespace(
            workdir=folder / "run", returncode=process.returncode,
            stdout=(folder / "stdout").read_text(), stderr=(folder / "stderr").read_text())
    return finished


def test_stderr_is_empty_and_stdout_starts_with_the_summary(runs, tmp_path):
    result = runs["quiet"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    assert result.stdout.startswith("[mtl_keras] ")  # the run's own lines, first to last
    assert "[mtl_keras] dataset=cifar100 (synthetic) train=256 " in result.stdout
    # Predicting: stderr holds the one line about the missing image, and nothing else.
    missing = tmp_path / "missing.png"
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    predicted = subprocess.run(
        [sys.executable, "-m", "mtl_keras.predict", f"--workdir={result.workdir}", str(missing)],
        env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 2
    assert predicted.stderr == f"error: {missing} does not exist.\n"


def test_setting_the_log_level_shows_tensorflow_lines_again(runs):
    result = runs["loud"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "oneDNN" in result.stderr or "cuda" in result.stderr.lower()
