"""CIFAR-10 from an original archive: one shipped label, two published levels derived."""

import pickle

import numpy as np

from helpers import write_tar_gz
from mtl_keras import config as config_lib
from mtl_keras.data import cifar


def test_cifar10_python_archive_gets_three_heads(tmp_path):
    rng = np.random.default_rng(0)
    members = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, 10, 4).tolist()}
        members[f"cifar-10-batches-py/{name}"] = pickle.dumps(batch, protocol=2)
    path = write_tar_gz(tmp_path / "cifar-10-python.tar.gz", members)
    data = cifar.load_cifar10(config_lib.Config(dataset="cifar10", archive=path, validation_size=5))
    assert [task.name for task in data.tasks] == ["fine", "mid", "coarse"]
    assert (len(data.train), len(data.validation), len(data.test)) == (15, 5, 4)
    fine = data.test.labels["fine"]
    assert fine.tolist() == pickle.loads(members["cifar-10-batches-py/test_batch"])[b"labels"]
    # airplane → sky → transport; cat → pet → animal
    mid = np.array([0, 2, 3, 5, 6, 5, 4, 6, 1, 2])[fine]
    np.testing.assert_array_equal(data.test.labels["mid"], mid)
    np.testing.assert_array_equal(data.test.labels["coarse"], (mid >= 3) * 1)
