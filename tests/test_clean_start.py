"""A run's terminal shows the run's own lines, not TensorFlow's C++ start-up lines."""

import os
import subprocess
import sys

from helpers import REPO


def _run(tmp_path, **environment):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "mtl_keras.run", "--synthetic", "--synthetic_examples=256",
               "--validation_size=0", "--trunk=simple_cnn", "--epochs=1", "--batch_size=64",
               f"--workdir={tmp_path / 'run'}"]
    return subprocess.run(command, env={**env, "PYTHONPATH": str(REPO), **environment},
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def test_stderr_is_empty_and_stdout_starts_with_the_summary(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    assert result.stdout.startswith("[mtl_keras] ")  # the run's own lines, first to last
    assert "[mtl_keras] dataset=cifar100 (synthetic) train=256 " in result.stdout
    # Predicting: stderr holds the one line about the missing image, and nothing else.
    missing = tmp_path / "missing.png"
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    predicted = subprocess.run(
        [sys.executable, "-m", "mtl_keras.predict", f"--workdir={tmp_path / 'run'}", str(missing)],
        env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert predicted.returncode == 2
    assert predicted.stderr == f"error: {missing} does not exist.\n"


def test_setting_the_log_level_shows_tensorflow_lines_again(tmp_path):
    result = _run(tmp_path, TF_CPP_MIN_LOG_LEVEL="0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "oneDNN" in result.stderr or "cuda" in result.stderr.lower()
