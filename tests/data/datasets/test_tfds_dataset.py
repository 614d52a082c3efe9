"""--dataset=tfds:NAME with --tasks mapping features to heads, under tfds.testing.mock_data
(CelebA's features, examples made here with their labels painted into the pixels)."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from helpers import refusal, run_main
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras.data import pipeline
from mtl_keras.data.datasets import tfds_source

SIZES = {"train": 240, "validation": 40, "test": 80}
ATTRIBUTES = tuple(tfds.builder("celeb_a").info.features["attributes"].keys())
LANDMARKS = tuple(tfds.builder("celeb_a").info.features["landmarks"].keys())
HEADS = ("smiling=attributes/Smiling:binary,male=attributes/Male:binary,"
         "glasses=attributes/Eyeglasses:binary,nose_x=landmarks/nose_x:regression")


def _examples(split):
    """Made-up CelebA examples: Smiling paints the top half green, Male the bottom half
    blue, Eyeglasses a white corner, nose_x the red channel; other attributes are random."""
    rng = np.random.default_rng({"train": 1, "validation": 2, "test": 3}[split])
    size = SIZES[split]
    attributes = {name: rng.random(size) < 0.5 for name in ATTRIBUTES}
    landmarks = {name: rng.integers(0, 100, size) for name in LANDMARKS}
    images = np.zeros((size, 24, 20, 3), np.int64)
    images[..., 0] = (landmarks["nose_x"] * 2.5)[:, None, None]
    images[:, :12, :, 1] = 200 * attributes["Smiling"][:, None, None]
    images[:, 12:, :, 2] = 200 * attributes["Male"][:, None, None]
    images[:, :6, :6, :] += 255 * attributes["Eyeglasses"][:, None, None, None]
    images = np.clip(images + rng.integers(-8, 9, images.shape), 0, 255).astype(np.uint8)
    return {"image": images, "attributes": attributes, "landmarks": landmarks,
            "identity": {"Identity_No": rng.integers(0, 5000, size)}}


@pytest.fixture
def celeb_a(monkeypatch):
    monkeypatch.setattr(tfds_source, "check_reachable", lambda url: None)

    def as_dataset_fn(self, split, **kwargs):
        del self, kwargs
        return tf.data.Dataset.from_tensor_slices(_examples(split))

    with tfds.testing.mock_data(as_dataset_fn=as_dataset_fn):
        yield


def _load(tmp_path, tasks, **settings):
    return data_lib.load(config_lib.Config(dataset="tfds:celeb_a", tasks=tasks, image_size=16,
                                           data_dir=str(tmp_path / "tfds"), **settings))


@pytest.mark.parametrize("in_memory", ["false", "true"])
def test_features_become_heads_with_their_labels_in_order(celeb_a, tmp_path, in_memory):
    # Streamed from TFDS' shards, or decoded into memory once: the same labels and images.
    data = _load(tmp_path, HEADS, in_memory=in_memory)
    assert data.name == "tfds:celeb_a"
    assert [(task.name, task.kind) for task in data.tasks] == [
        ("smiling", "binary"), ("male", "binary"), ("glasses", "binary"), ("nose_x", "regression")]
    assert data.tasks[0].class_names == ("no", "yes")
    assert (len(data.train), len(data.validation), len(data.test)) == (240, 40, 80)
    assert data.image_shape == (16, 16, 3)
    assert data.train.in_memory == data.test.in_memory == (in_memory == "true")
    for split in ("train", "validation", "test"):
        made, labels = _examples(split), getattr(data, split).labels
        np.testing.assert_array_equal(labels["smiling"][:, 0], made["attributes"]["Smiling"])
        np.testing.assert_array_equal(labels["glasses"][:, 0], made["attributes"]["Eyeglasses"])
        np.testing.assert_array_equal(labels["nose_x"][:, 0], made["landmarks"]["nose_x"])
    nose = _examples("train")["landmarks"]["nose_x"]
    assert data.tasks[3].target_mean == pytest.approx(nose.mean())
    # The pipeline's labels are the same as the arrays the metrics use, image by image.
    images, labels = next(iter(pipeline.make_dataset(data.test, 80, training=False)))
    np.testing.assert_array_equal(labels["male"].numpy()[:, 0],
                                  _examples("test")["attributes"]["Male"])
    green_top = images.numpy()[:, :8, :, 1].mean(axis=(1, 2)) > 100
    np.testing.assert_array_equal(green_top, _examples("test")["attributes"]["Smiling"])


def test_attributes_as_one_multilabel_head_or_one_binary_head_each(celeb_a, tmp_path):
    data = _load(tmp_path, "attributes:multilabel")
    (task,) = data.tasks
    assert (task.name, task.kind, task.num_classes) == ("attributes", "multilabel", 40)
    assert task.class_names == ATTRIBUTES
    made = _examples("test")["attributes"]
    np.testing.assert_array_equal(data.test.labels["attributes"],
                                  np.stack([made[name] for name in ATTRIBUTES], axis=1))
    each = _load(tmp_path, "attributes/*:binary")
    assert [task.name for task in each.tasks] == list(ATTRIBUTES)
    assert all(task.kind == "binary" for task in each.tasks)


def test_a_tfds_dataset_trains_as_several_heads(celeb_a, tmp_path, run_flags):
    workdir = tmp_path / "run"
    status = run_main(run_flags, "--dataset=tfds:celeb_a", f"--tasks={HEADS}", "--image_size=16",
                      f"--data_dir={tmp_path / 'tfds'}", "--trunk=simple_cnn", "--epochs=6",
                      "--noaugment", f"--workdir={workdir}")
    assert status == 0
    heads = json.loads((workdir / "metrics.json").read_text())["heads"]
    assert heads["smiling"]["accuracy"] > 0.9 and heads["male"]["accuracy"] > 0.9
    assert heads["glasses"]["accuracy"] > 0.8
    assert heads["nose_x"]["mae"] < 20  # predicting the mean gives about 25


@pytest.mark.parametrize("tasks,message", [
    ("smile=attributes/Smile:binary", "has no feature 'attributes/Smile' (features at that "
                                      "level: 5_o_Clock_Shadow, Arched_Eyebrows"),
    ("identity/Identity_No:multiclass", "declare its classes"),
    ("landmarks:binary", "needs a feature holding one number"),
    ("image/*:binary", "is not a dict of features"),
])
def test_features_that_do_not_fit_their_heads_are_refused(celeb_a, tmp_path, tasks, message):
    with pytest.raises(errors.UserError, match=re.escape(message)):
        _load(tmp_path, tasks)


def test_class_ids_outside_the_declared_classes_are_refused(celeb_a, tmp_path):
    with pytest.raises(errors.UserError, match="class ids from 0 to 99, outside 0..9"):
        _load(tmp_path, "nose=landmarks/nose_x:multiclass:10")


def test_an_unprepared_dataset_offline_says_how_to_prepare_it_elsewhere(
        tmp_path, run_flags, capsys, monkeypatch):
    def offline(url):
        raise OSError("Name or service not known")

    monkeypatch.setattr(tfds_source, "check_reachable", offline)
    message = refusal(run_flags, capsys, tmp_path / "run", "--dataset=tfds:celeb_a",
                      "--tasks=attributes:multilabel", f"--data_dir={tmp_path / 'tfds'}")
    assert message.startswith(f"celeb_a is not prepared in {tmp_path / 'tfds'}")
    assert ("tfds.builder('celeb_a').download_and_prepare()" in message
            and "--data_dir=THAT_FOLDER" in message)


@pytest.mark.parametrize("flags,message", [
    (["--dataset=tfds:"], "needs the name of a TensorFlow Datasets dataset"),
    (["--dataset=tfds:no_such_dataset", "--tasks=x:binary"], "has no dataset 'no_such_dataset'"),
    (["--dataset=tfds:celeb_a"], "needs the heads: give --tasks"),
])
def test_tfds_mistakes_are_one_line(tmp_path, run_flags, capsys, flags, message):
    assert message in refusal(run_flags, capsys, tmp_path / "run", *flags)
