"""Folders streamed from disk: from their files, or from a record cache written once.

The in-memory path is the reference: a streamed split must hold the same images with the
same labels and masks, in the same splits, and train the same way (shuffled, augmented,
seeded), while only a bounded buffer of images is held.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.data.experimental.ops import distribute

import faces_data
from helpers import refusal, run_main
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import size_rule
from mtl_keras.data import pipeline
from mtl_keras.data.images import record_cache
from mtl_keras.data.images import streams

TASKS = "age:regression,gender:binary,race:multiclass:" + "|".join(faces_data.RACES)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """120 face images (every fifth age missing), split by the hash of their names."""
    folder = tmp_path_factory.mktemp("faces")
    faces_data.write_csv_folder(folder, count=120, missing_age_every=5)
    return folder


def _load(folder, **settings):
    settings = {"image_size": 16, "validation_size": 12, **settings}
    return data_lib.load(config_lib.Config(dataset="folder", csv=str(folder / "labels.csv"),
                                           tasks=TASKS, **settings))


def _examples(split, training=False, seed=0, batch_size=8):
    """{image bytes: (age, gender, race, age mask)} of one pass over the split's pipeline."""
    examples = {}
    for images, labels, masks in pipeline.make_dataset(split, batch_size, training, seed=seed,
                                                       augment=False):
        for index, image in enumerate(images.numpy()):
            examples[image.tobytes()] = (float(labels["age"][index][0]),
                                         float(labels["gender"][index][0]),
                                         int(labels["race"][index]), float(masks["age"][index]))
    return examples


@pytest.mark.parametrize("cached", [False, True], ids=["files", "record_cache"])
def test_streamed_splits_hold_the_in_memory_examples(faces, tmp_path, cached):
    in_memory = _load(faces)
    streamed = _load(faces, in_memory="false", cache_dir=str(tmp_path / "cache") if cached else "")
    assert not streamed.train.in_memory
    assert isinstance(streamed.train.images, record_cache.RecordStream if cached
                      else streams.FileStream)
    # Where the images live, as the run's first lines say it.
    assert in_memory.train.storage == "memory"
    assert streamed.train.storage == streamed.test.storage == ("cached" if cached else "streamed")
    assert streamed.image_shape == in_memory.image_shape == (16, 16, 3)
    for name in ("train", "validation", "test"):
        expected, split = getattr(in_memory, name), getattr(streamed, name)
        assert len(split) == len(expected)
        # The same images with the same labels and masks, whatever their order.
        assert _examples(split) == _examples(expected)
    # The evaluation order is the split's own: predictions line up with its label arrays.
    np.testing.assert_array_equal(streamed.test.first_images(5), in_memory.test.images[:5])
    batches = list(pipeline.make_dataset(streamed.test, 4, training=False))
    np.testing.assert_array_equal(np.concatenate([images for images, *_ in batches]),
                                  in_memory.test.images)
    np.testing.assert_array_equal(np.concatenate([labels["race"] for _, labels, _ in batches]),
                                  in_memory.test.labels["race"])
    wanted = in_memory.train.images.mean(axis=(0, 1, 2)) / 255  # by hand, per channel
    np.testing.assert_allclose(streamed.train.images.mean, wanted, atol=1e-5)


def test_training_order_is_seeded_reshuffled_and_each_image_once(faces, tmp_path):
    split = _load(faces, in_memory="false", cache_dir=str(tmp_path / "cache")).train

    def passes(seed, count=2):
        dataset = pipeline.make_dataset(split, 1, True, seed=seed, augment=False).repeat(count)
        images = [image.numpy().tobytes() for image, *_ in dataset]
        return [images[len(split) * number:len(split) * (number + 1)] for number in range(count)]

    first, second = passes(3)
    assert len(set(first)) == len(split) and set(first) == set(second)  # each image once a pass
    assert first != second  # reshuffled every epoch
    assert passes(3) == [first, second]
    assert passes(4)[0] != first
    in_order = [image.tobytes() for image in split.first_images(len(split))]
    assert first != in_order


def test_shuffle_buffer_holds_a_bounded_number_of_images():
    assert streams.shuffle_buffer(200_000, 64 * 64 * 3) == 5461  # 64 MiB / 12,288 bytes
    assert streams.shuffle_buffer(3_000, 64 * 64 * 3) == 3_000  # the whole split when smaller
    assert streams.shuffle_buffer(200_000, 224 * 224 * 3) == 1024  # at least 1,024 images


def test_in_memory_rule_is_one_gibibyte_of_decoded_pixels():
    # 87,381 images of 64×64×3 bytes are 1,073,737,728 bytes, just under 2**30.
    assert size_rule.in_memory("auto", 87_381, 64 * 64 * 3)
    assert not size_rule.in_memory("auto", 87_382, 64 * 64 * 3)
    assert size_rule.in_memory("true", 10**7, 64 * 64 * 3)
    assert not size_rule.in_memory("false", 1, 64 * 64 * 3)


def test_a_resumed_stream_continues_with_the_same_batches_and_augmentation(faces, tmp_path):
    split = _load(faces, in_memory="false", cache_dir=str(tmp_path / "cache")).train

    def batches(skip, take):
        dataset = pipeline.make_dataset(split, 16, True, seed=2, deterministic=True).repeat()
        return [images.numpy() for images, *_ in dataset.skip(skip).take(take)]

    straight = batches(0, 12)  # 192 images: more than two epochs of the 80-odd
    for got, wanted in zip(batches(7, 5), straight[7:]):
        np.testing.assert_array_equal(got, wanted)


def test_streamed_images_are_cropped_and_flipped_anew_every_pass(faces, tmp_path):
    split = _load(faces, in_memory="false", cache_dir=str(tmp_path / "cache")).train
    originals = {image.tobytes() for image in split.first_images(len(split))}
    dataset = pipeline.make_dataset(split, len(split) // 2, True, seed=1).repeat(2)
    passes = [images.numpy() for images, *_ in dataset]
    changed = [image.tobytes() not in originals for images in passes for image in images]
    assert sum(changed) > 0.5 * len(changed)
    assert not np.array_equal(passes[0], passes[2])


def test_workers_read_disjoint_shards_that_cover_the_training_split(faces, tmp_path):
    split = _load(faces, in_memory="false", cache_dir=str(tmp_path / "cache")).train
    dataset = pipeline.make_dataset(split, 1, True, seed=0, augment=False)
    assert (dataset.options().experimental_distribute.auto_shard_policy
            == tf.data.experimental.AutoShardPolicy.FILE)
    seen = []
    for worker in range(2):  # what tf.distribute applies on each of two workers
        sharded = distribute._AutoShardDataset(dataset, num_workers=2, index=worker, num_replicas=2)
        seen.append([image.numpy().tobytes() for image, *_ in sharded])
    assert len(seen[0]) + len(seen[1]) == len(split)
    assert not set(seen[0]) & set(seen[1])
    assert set(seen[0]) | set(seen[1]) == {image.tobytes()
                                           for image in split.first_images(len(split))}
    assert len(split.images.files) == 16 and abs(len(seen[0]) - len(seen[1])) <= 8


def test_the_cache_is_written_once_then_read_and_rewritten_when_the_images_change(
        tmp_path, capsys):
    faces_data.write_csv_folder(tmp_path, count=60)
    cache = tmp_path / "cache"
    _load(tmp_path, in_memory="false", cache_dir=str(cache))
    assert "writing 60 images as record shards" in capsys.readouterr().out
    manifest = json.loads((cache / "manifest.json").read_text())
    assert sum(split["count"] for split in manifest["splits"].values()) == 60
    stamps = {name: os.stat(cache / name).st_mtime_ns for name in os.listdir(cache)}
    _load(tmp_path, in_memory="false", cache_dir=str(cache))
    assert "reading 60 images from the record cache" in capsys.readouterr().out
    assert {name: os.stat(cache / name).st_mtime_ns for name in os.listdir(cache)} == stamps
    data = _load(tmp_path, in_memory="false", cache_dir=str(cache), image_size=8)  # another size
    assert "writing 60 images" in capsys.readouterr().out
    assert data.image_shape == (8, 8, 3) and data.test.first_images(1).shape == (1, 8, 8, 3)
    assert json.loads((cache / "manifest.json").read_text())["image_size"] == 8
    # An image replaced by another: the cache holds the new one.
    replaced = tmp_path / "img" / "face3.png"
    replaced.write_bytes(tf.io.encode_png(np.full((16, 16, 3), 123, np.uint8)).numpy())
    data = _load(tmp_path, in_memory="false", cache_dir=str(cache), image_size=8)
    assert "writing 60 images" in capsys.readouterr().out
    everything = [data.train.first_images(len(data.train)), data.test.first_images(len(data.test))]
    if data.validation is not None:
        everything.append(data.validation.first_images(len(data.validation)))
    assert any((image == 123).all() for images in everything for image in images)


def test_a_cache_folder_holding_other_files_is_refused(faces, tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "notes.txt").write_text("mine")
    with pytest.raises(errors.UserError, match="holds notes.txt, which a record cache does not"):
        _load(faces, in_memory="false", cache_dir=str(tmp_path / "cache"))


@pytest.mark.parametrize("cached", [False, True], ids=["files", "record_cache"])
def test_a_bad_image_is_named_before_training(tmp_path, run_flags, capsys, cached):
    faces_data.write_csv_folder(tmp_path, count=40)
    (tmp_path / "img" / "face17.png").write_bytes(b"not an image")
    cache = [f"--cache_dir={tmp_path / 'cache'}"] if cached else []
    message = refusal(run_flags, capsys, tmp_path / "run", "--dataset=folder",
                      f"--csv={tmp_path / 'labels.csv'}", f"--tasks={TASKS}", "--image_size=16",
                      "--in_memory=false", *cache)
    bad = tmp_path / "img" / "face17.png"
    assert message.startswith(f"{tmp_path / 'labels.csv'}:19: image {bad} cannot be read")
    assert not (tmp_path / "cache" / "manifest.json").exists()


def test_a_streamed_folder_trains_with_test_time_augmentation(faces, tmp_path, run_flags):
    workdir = tmp_path / "run"
    status = run_main(run_flags, "--dataset=folder", f"--csv={faces / 'labels.csv'}",
                      f"--tasks={TASKS}", "--image_size=16", "--in_memory=false",
                      f"--cache_dir={tmp_path / 'cache'}", "--trunk=simple_cnn", "--epochs=12",
                      "--noaugment", "--test_flip", "--validation_size=12",
                      f"--workdir={workdir}")
    assert status == 0
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["test_views"] == 2 and metrics["heads"]["race"]["examples"] > 0
    # Gender is painted into the top half of every face: far above chance once trained.
    assert metrics["heads"]["gender"]["accuracy"] > 0.8
    assert os.listdir(workdir / "tensorboard" / "validation_images")  # grids of streamed images
