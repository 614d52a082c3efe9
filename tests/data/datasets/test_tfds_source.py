"""The TFDS path of the cifar100 dataset, under tfds.testing.mock_data (no download)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from mtl_keras import errors
from mtl_keras.config import Config
from mtl_keras.data.datasets import cifar, tfds_source

SIZES = {"train": 30, "test": 10}


def _examples(split, parents, consistent):
    """Made-up CIFAR-100 examples of `split`, keyed like the TFDS features."""
    rng = np.random.default_rng({"train": 1, "test": 2}[split])
    size = SIZES[split]
    fine = rng.integers(0, 100, size).astype(np.int64)
    coarse = parents[fine].astype(np.int64)
    if not consistent:
        coarse[3] = (coarse[3] + 7) % 20  # one example whose coarse label is wrong
    images = rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8)
    ids = np.array([f"{split}_{i}".encode() for i in range(size)])
    return {"image": images, "label": fine, "coarse_label": coarse, "id": ids}


def _mock_tfds(parents, consistent):
    calls = []

    def as_dataset_fn(self, split, **kwargs):
        del self, kwargs
        calls.append(split)
        return tf.data.Dataset.from_tensor_slices(_examples(split, parents, consistent))

    return tfds.testing.mock_data(num_examples=SIZES["train"], as_dataset_fn=as_dataset_fn), calls


@pytest.fixture
def probes(monkeypatch):
    """Replaces the network probe by a recorder: the tests never touch the network."""
    urls = []
    monkeypatch.setattr(tfds_source, "check_reachable", urls.append)
    return urls


def test_cifar100_through_tfds(tmp_path, probes, cifar_hierarchy):
    parents = cifar_hierarchy.parents["fine"]
    mock, calls = _mock_tfds(parents, consistent=True)
    with mock:
        data = cifar.load_cifar100(Config(data_dir=str(tmp_path / "tfds"), validation_size=6))
    assert probes == ["https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"]  # not prepared under the mock: probed, then "downloaded"
    assert sorted(calls) == ["test", "train"]
    assert data.name == "cifar100" and not data.synthetic
    assert tuple(task.name for task in data.tasks) == ("fine", "coarse")
    assert tuple(task.num_classes for task in data.tasks) == (100, 20)
    assert data.tasks[0].class_names[0] == "apple"
    assert data.image_shape == (32, 32, 3)
    assert (len(data.train), len(data.validation), len(data.test)) == (24, 6, 10)

    train, test = _examples("train", parents, True), _examples("test", parents, True)
    np.testing.assert_array_equal(data.train.images, train["image"][:24])
    np.testing.assert_array_equal(data.validation.images, train["image"][24:])  # the last 6
    np.testing.assert_array_equal(data.test.images, test["image"])
    for split, expected, part in ((data.train, train, slice(0, 24)),
                                  (data.validation, train, slice(24, None)),
                                  (data.test, test, slice(None))):
        assert split.images.dtype == np.uint8
        assert set(split.labels) == {"fine", "coarse"}
        for head, feature in (("fine", "label"), ("coarse", "coarse_label")):
            assert split.labels[head].dtype == np.int64
            np.testing.assert_array_equal(split.labels[head], expected[feature][part])
        np.testing.assert_array_equal(split.labels["coarse"], parents[split.labels["fine"]])


def test_tfds_coarse_labels_inconsistent_with_the_hierarchy(tmp_path, probes, cifar_hierarchy):
    mock, _ = _mock_tfds(cifar_hierarchy.parents["fine"], consistent=False)
    with mock, pytest.raises(errors.UserError) as error:
        cifar.load_cifar100(Config(data_dir=str(tmp_path / "tfds"), validation_size=6))
    message = str(error.value)
    assert "cifar100 train split: 1 of 30 examples have a coarse label" in message
    assert "not the parent of their fine label (first: example 3" in message


def test_default_mock_labels_break_the_hierarchy(tmp_path, probes):
    """Why the tests above need their own as_dataset_fn: the default mock draws the two
    labels independently, which the loader rightly refuses."""
    with tfds.testing.mock_data(num_examples=40), pytest.raises(errors.UserError,
                                                               match="not the parent"):
        cifar.load_cifar100(Config(data_dir=str(tmp_path / "tfds"), validation_size=5))


def test_download_failure_becomes_a_user_error(tmp_path, monkeypatch):
    def offline(url):
        raise OSError("Name or service not known")

    monkeypatch.setattr(tfds_source, "check_reachable", offline)
    with pytest.raises(errors.UserError) as error:
        tfds_source.load_arrays("cifar100", str(tmp_path / "tfds"), "https://example.invalid/x.tgz",
                                "Do something else.")
    message = str(error.value)
    assert message.startswith("cifar100 is not prepared in ")
    assert str(tmp_path / "tfds") in message
    assert "(OSError: Name or service not known). Do something else." in message
    assert "\n" not in message


def test_first_line_keeps_one_short_line():
    assert tfds_source._first_line(ValueError("first\nsecond")) == "first"
    assert tfds_source._first_line(ValueError("")) == "no detail"
    assert len(tfds_source._first_line(ValueError("x" * 1000))) == 300
