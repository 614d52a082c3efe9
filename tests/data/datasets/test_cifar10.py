"""CIFAR-10 from an original archive (both layouts): one shipped label, two published
levels derived."""

import pickle

import numpy as np
import pytest

from helpers import channel_major_records, known_images, write_tar_gz
from mtl_keras import config as config_lib
from mtl_keras.data.datasets import cifar, cifar_archive


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


# Six batches of the original layouts (data_batch_1 to _5, test_batch), three images each,
# every image a known formula of its number (helpers.known_images): an image put in
# another batch's place, or a channel read as another, shows.
_PER_BATCH = 3
_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _labels(index):
    return [(7 * (index * _PER_BATCH + row)) % 10 for row in range(_PER_BATCH)]


def _cifar10_archive(folder, layout):
    members = {}
    for index, name in enumerate(_BATCHES):
        records = channel_major_records(_PER_BATCH, offset=index * _PER_BATCH)
        if layout == "python":
            members[f"cifar-10-batches-py/{name}"] = pickle.dumps(
                {b"data": records, b"labels": _labels(index)}, protocol=2)
        else:
            members[f"cifar-10-batches-bin/{name}.bin"] = b"".join(
                bytes([label]) + record.tobytes() for label, record in zip(_labels(index), records))
    return write_tar_gz(folder / f"cifar-10-{layout}.tar.gz", members)


@pytest.mark.parametrize("layout", ["python", "binary"])
def test_cifar10_archive_layouts_give_the_images_and_labels_in_order(tmp_path, layout):
    splits = cifar_archive.read(_cifar10_archive(tmp_path, layout), "cifar10")
    train_count = 5 * _PER_BATCH
    np.testing.assert_array_equal(splits["train"].images, known_images(train_count))
    np.testing.assert_array_equal(splits["test"].images, known_images(_PER_BATCH, train_count))
    assert splits["train"].labels["fine"].tolist() == sum((_labels(i) for i in range(5)), [])
    assert splits["test"].labels["fine"].tolist() == _labels(5)
    assert set(splits["train"].labels) == {"fine"}
    # Pixel [row 1, col 2] of training image 4 (batch 2, its second): R, G, B.
    assert splits["train"].images[4, 1, 2].tolist() == [
        (4 * 37 + channel * 85 + 7 + 2) % 256 for channel in range(3)]
    data = cifar.load_cifar10(config_lib.Config(dataset="cifar10", archive=str(
        _cifar10_archive(tmp_path, layout)), validation_size=5))
    # The validation split is the last five training images, in order.
    np.testing.assert_array_equal(data.validation.images, known_images(train_count)[-5:])
