"""Batches over replicas and workers: a global batch that does not divide is refused by
the run, each worker of a cluster trains on its own half of every global batch, and one
step on two workers is one step in one process."""

import json
import os
import subprocess
import sys

import cluster_worker
import numpy as np
import pytest
import tensorflow as tf
from helpers import REPO, free_ports, refusal

from mtl_keras import config as config_lib
from mtl_keras.training import preparation

TESTS = REPO / "tests"  # the support modules' folder
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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """What each worker of a two-worker loopback cluster wrote (tests/cluster_worker.py):
    the example ids of its steps, and its weights after one step of each method."""
    folder = tmp_path_factory.mktemp("cluster")
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(tf_config),
               "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
        processes.append(subprocess.Popen(
            [sys.executable, str(TESTS / "cluster_worker.py"), str(folder / f"{index}.npz")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        try:
            _, err = process.communicate(timeout=240)
        finally:
            process.kill()
        assert process.returncode == 0, err[-3000:]
    return [dict(np.load(folder / f"{index}.npz")) for index in range(2)]


def test_each_worker_trains_on_its_own_half_of_every_batch(cluster):
    """64 examples at a global batch of 16: each of the 4 steps of an epoch gives each
    worker 8 examples, the two halves never overlap, and over the epoch the 8 halves are
    the 64 examples once each. Both workers seeing the whole batch (or the same half)
    would repeat examples."""
    steps = cluster_worker.EXAMPLES // cluster_worker.BATCH_SIZE
    first, second = ([list(worker[f"ids_{step}"]) for step in range(steps)] for worker in cluster)
    for step, (mine, theirs) in enumerate(zip(first, second)):
        assert len(mine) == len(theirs) == 8, step
        assert not set(mine) & set(theirs), step
    seen = sorted(value for step in first + second for value in step)
    assert seen == list(range(64))


@pytest.mark.parametrize("method", cluster_worker.METHODS)
def test_one_step_on_two_workers_is_one_step_in_one_process(cluster, method):
    """The same seeded pipeline and initial weights, one step of `fit`: the two workers'
    weights are those of one process up to round-off (relative 1e-5 of each tensor's
    largest weight), and so are the step's logs (the losses over the global batch before
    the step, mgda's task weights and the gradients' norms and cosine).

    What a wrong version changes: a worker training on another batch than the process's
    first (Keras drawing a batch before training, under a strategy only, so that every
    epoch took the order of the next); a loss divided by a worker's own count of known
    labels (`coarse` is known on about 40 % of the examples, unevenly over the halves);
    mgda weighing one worker's Gramian instead of the global one."""
    weights, logs = cluster_worker.train_one_step(tf.distribute.get_strategy(), method)
    assert logs["loss"] > 0 and (method != "mgda" or 0 < logs["fine_weight"] < 1)
    for worker in cluster:
        for index, expected in enumerate(weights):
            difference = np.abs(worker[f"{method}_weight_{index}"] - expected).max()
            assert difference <= 1e-5 * np.abs(expected).max(), (index, difference)
        for name, value in logs.items():
            np.testing.assert_allclose(worker[f"{method}_log_{name}"], value, rtol=1e-5,
                                       atol=1e-7, err_msg=name)
