"""The readers of the original CIFAR-100 archives (python pickles and binary records)."""

import os
import pickle
import shlex

import numpy as np
import pytest

from mtl_keras import errors
from mtl_keras.config import Config
from mtl_keras.data.datasets import cifar, cifar_archive

from helpers import binary_batch, channel_major_records, python_batch, write_tar_gz


def test_fixture_records_are_channel_major():
    """The hand-made records really are in the original layout: R plane, G plane, B plane."""
    record = channel_major_records(1)[0]
    # pixel (row 1, col 2): R at 0*1024 + 1*32 + 2, G at 1*1024 + 34, B at 2*1024 + 34
    assert record[34] == (0 * 85 + 1 * 7 + 2) % 256 == 9
    assert record[1024 + 34] == (1 * 85 + 1 * 7 + 2) % 256 == 94
    assert record[2048 + 34] == (2 * 85 + 1 * 7 + 2) % 256 == 179


@pytest.mark.parametrize("layout", ["python", "binary"])
def test_read_reconstructs_hwc_images_and_labels(archives, layout):
    splits = cifar_archive.read(getattr(archives, layout)())
    assert set(splits) == {"train", "test"}
    for name, split in splits.items():
        assert split.images.dtype == np.uint8
        assert split.images.shape == (archives.sizes[name], 32, 32, 3)
        assert split.images.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(split.images, archives.images(name))
        assert set(split.labels) == {"fine", "coarse"}
        np.testing.assert_array_equal(split.labels["fine"], archives.fine[name])
        np.testing.assert_array_equal(split.labels["coarse"], archives.coarse[name])
        assert split.labels["fine"].dtype == np.int64
    image = splits["train"].images[0]
    # Pixel [row 1, col 2] of image 0: R 9, G 94, B 179 (see the test above).
    assert image[1, 2].tolist() == [9, 94, 179]
    assert image[31, 0].tolist() == [(31 * 7) % 256, (85 + 31 * 7) % 256, (170 + 31 * 7) % 256]
    # Image 1 of the test split is image 13 overall (12 training images come first).
    assert splits["test"].images[1, 0, 5, 2] == (13 * 37 + 170 + 5) % 256


def test_both_layouts_read_to_identical_arrays(archives):
    from_python = cifar_archive.read(archives.python())
    from_binary = cifar_archive.read(archives.binary())
    for name in ("train", "test"):
        np.testing.assert_array_equal(from_python[name].images, from_binary[name].images)
        for head in ("fine", "coarse"):
            np.testing.assert_array_equal(from_python[name].labels[head],
                                          from_binary[name].labels[head])


def test_layout_is_recognised_from_members_not_file_name(archives):
    path = archives.binary(name="cifar-100-python.tar.gz")  # misleading name, binary content
    np.testing.assert_array_equal(cifar_archive.read(path)["train"].images, archives.images("train"))


def test_truncated_binary_file_is_refused(archives, tmp_path):
    whole = binary_batch(archives.records("train"), archives.fine["train"], archives.coarse["train"])
    test = binary_batch(archives.records("test"), archives.fine["test"], archives.coarse["test"])
    path = write_tar_gz(tmp_path / "cut.tar.gz", {"cifar-100-binary/train.bin": whole[:-100],
                                                 "cifar-100-binary/test.bin": test})
    with pytest.raises(errors.UserError) as error:
        cifar_archive.read(path)
    message = str(error.value)
    assert "train.bin" in message and "truncated" in message
    assert f"{len(whole) - 100} bytes" in message


def test_tar_without_cifar_members_is_refused(tmp_path):
    path = write_tar_gz(tmp_path / "other.tar.gz", {"cifar-10-batches-py/data_batch_1": b"x",
                                                   "cifar-100-python/train": b"only train"})
    with pytest.raises(errors.UserError, match="is not an original cifar100 archive: it holds neither train, test"):
        cifar_archive.read(path)


def test_non_tar_file_is_refused(tmp_path):
    path = tmp_path / "cifar-100-python.tar.gz"
    path.write_bytes(b"<html>404 Not Found</html>\n" * 20)
    with pytest.raises(errors.UserError, match="is not a readable tar.gz archive"):
        cifar_archive.read(str(path))


def test_non_tar_error_is_one_line(tmp_path):
    path = tmp_path / "cifar-100-python.tar.gz"
    path.write_bytes(b"<html>404 Not Found</html>\n" * 20)
    with pytest.raises(errors.UserError) as error:
        cifar_archive.read(str(path))
    assert "\n" not in str(error.value)


def test_missing_file_is_refused(tmp_path):
    missing = str(tmp_path / "nowhere" / "cifar-100-python.tar.gz")
    with pytest.raises(errors.UserError) as error:
        cifar_archive.read(missing)
    assert str(error.value) == f"--archive={missing} does not exist; check the path."


def test_directory_is_refused(tmp_path):
    with pytest.raises(errors.UserError, match="is not a readable tar.gz archive"):
        cifar_archive.read(str(tmp_path))


@pytest.mark.parametrize("payload", [
    pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [1, 2]}, protocol=2),
    pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"fine_labels": [1, 2],
                  b"coarse_labels": [1, 2]}, protocol=2),
    pickle.dumps([1, 2, 3], protocol=2),
    b"not a pickle at all",
], ids=["no-coarse-labels", "wrong-row-length", "not-a-dict", "garbage"])
def test_malformed_python_batch_is_refused(tmp_path, payload):
    path = write_tar_gz(tmp_path / "bad.tar.gz", {"cifar-100-python/train": payload,
                                                 "cifar-100-python/test": payload})
    with pytest.raises(errors.UserError, match="cifar-100-python/train|bad.tar.gz:train"):
        cifar_archive.read(path)


class _RunsAShellCommand:
    """Unpickles into os.system(command): what a tampered archive could do."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pickle_with_disallowed_global_is_refused_and_not_executed(archives, tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _RunsAShellCommand(f"touch {shlex.quote(str(marker))}"),
                         b"fine_labels": [0], b"coarse_labels": [4]}, protocol=2)
    good_test = python_batch(archives.records("test"), archives.fine["test"], archives.coarse["test"])
    path = write_tar_gz(tmp_path / "evil.tar.gz", {"cifar-100-python/train": evil,
                                                  "cifar-100-python/test": good_test})
    with pytest.raises(errors.UserError) as error:
        cifar_archive.read(path)
    assert "system" in str(error.value)  # names the refused global
    assert not marker.exists()

    # Control: the payload is live; an ordinary unpickler runs the command.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_RunsAShellCommand(f"touch {shlex.quote(str(control))}"), protocol=2))
    assert control.exists()


@pytest.mark.parametrize("layout", ["python", "binary"])
def test_load_cifar100_from_archive(archives, layout):
    path = getattr(archives, layout)()
    data = cifar.load_cifar100(Config(archive=path, validation_size=4))
    assert data.name == "cifar100" and not data.synthetic
    assert [(t.name, t.num_classes) for t in data.tasks] == [("fine", 100), ("coarse", 20)]
    assert data.image_shape == (32, 32, 3)
    assert (len(data.train), len(data.validation), len(data.test)) == (8, 4, 4)
    images = archives.images("train")
    np.testing.assert_array_equal(data.train.images, images[:8])
    np.testing.assert_array_equal(data.validation.images, images[8:])  # the LAST 4 training images
    np.testing.assert_array_equal(data.validation.labels["fine"], archives.fine["train"][8:])
    np.testing.assert_array_equal(data.validation.labels["coarse"], archives.coarse["train"][8:])
    np.testing.assert_array_equal(data.test.images, archives.images("test"))
    for split in (data.train, data.validation, data.test):
        data.hierarchy.check(split.labels, where="loaded")


def test_load_cifar100_without_validation(archives):
    data = cifar.load_cifar100(Config(archive=archives.binary(), validation_size=0))
    assert data.validation is None and len(data.train) == 12


def test_load_cifar100_refuses_validation_as_large_as_training(archives):
    with pytest.raises(errors.UserError, match=r"^--validation_size=12 must be at least 0 and "
                                               r"below the 12 training examples \(0: no "
                                               r"validation split\)\.$"):
        cifar.load_cifar100(Config(archive=archives.binary(), validation_size=12))


@pytest.mark.parametrize("layout", ["python", "binary"])
def test_archive_with_wrong_coarse_labels_is_refused(archives, layout):
    coarse = dict(archives.coarse)
    coarse["test"] = coarse["test"].copy()
    coarse["test"][2] = (coarse["test"][2] + 1) % 20
    path = getattr(archives, layout)(coarse=coarse)
    with pytest.raises(errors.UserError) as error:
        cifar.load_cifar100(Config(archive=path, validation_size=4))
    message = str(error.value)
    assert message.startswith("cifar100 test split: 1 of 4 examples have a coarse label")
    assert "first: example 2" in message
