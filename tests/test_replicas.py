"""Batches over replicas and workers: a global batch that does not divide is refused by
the run, and each worker of a cluster trains on its own half of every global batch."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import tensorflow as tf

from helpers import free_ports, refusal
from mtl_keras import config as config_lib
from mtl_keras.training import preparation

TESTS = pathlib.Path(__file__).resolve().parent
_REAL_MIRRORED = tf.distribute.MirroredStrategy


@pytest.fixture
def two_devices(monkeypatch):
    """The hardware edge: this machine has no GPU, so MirroredStrategy() would mirror over
    one device; here it finds the two logical CPUs of conftest.py, as on two GPUs."""
    monkeypatch.setattr(tf.distribute, "MirroredStrategy",
                        lambda devices=None, **kwargs: _REAL_MIRRORED(["/cpu:0", "/cpu:1"]))


RUN = ["--synthetic", "--synthetic_examples=256", "--validation_size=0", "--trunk=simple_cnn",
       "--strategy=mirrored"]


def test_a_batch_that_does_not_divide_over_the_replicas_is_refused(two_devices, run_flags,
                                                                   capsys, tmp_path):
    message = refusal(run_flags, capsys, tmp_path / "run", *RUN, "--batch_size=63")
    assert message == "--batch_size=63 (global) does not divide over 2 replicas; use a multiple of 2."
    # The same run with an even batch passes every check, over two replicas.
    config = config_lib.Config(synthetic=True, synthetic_examples=256, validation_size=0,
                               trunk="simple_cnn", strategy="mirrored", batch_size=64)
    experiment = preparation.prepare(config, str(tmp_path / "even"))
    assert experiment.strategy.num_replicas_in_sync == 2
    assert not (tmp_path / "even").exists()


def _workers(examples, batch_size, steps):
    """Runs tests/multi_worker_batches.py as the two workers of a loopback cluster."""
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config),
               "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
        processes.append(subprocess.Popen(
            [sys.executable, str(TESTS / "multi_worker_batches.py"), str(examples),
             str(batch_size), str(steps)], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    outputs = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=240)
        finally:
            process.kill()
        assert process.returncode == 0, err[-3000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    return outputs


def test_each_worker_trains_on_its_own_half_of_every_batch():
    """64 examples at a global batch of 16: each of the 4 steps of an epoch gives each
    worker 8 examples, the two halves never overlap, and over the epoch the 8 halves are
    the 64 examples once each. Both workers seeing the whole batch (or the same half)
    would repeat examples."""
    first, second = _workers(examples=64, batch_size=16, steps=4)
    for step, (mine, theirs) in enumerate(zip(first, second)):
        assert len(mine) == len(theirs) == 8, step
        assert not set(mine) & set(theirs), step
    seen = sorted(value for step in first + second for value in step)
    assert seen == list(range(64))
