"""Multi-Fashion: the composites against a canvas built pixel by pixel and PIL's shrink, the
pairing within each split (found again by search), no flips, and learning on the real images."""

import dataclasses
import json
import os

import numpy as np
import pytest
from PIL import Image

from helpers import fit_briefly, refusal, run_main, write_fashion_mnist_folder
from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import cli
from mtl_keras.data.datasets import fashion_mnist
from mtl_keras.data.datasets import multi_fashion
from mtl_keras.training import preparation
from mtl_keras.training import train

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
         "Bag", "Ankle boot"]


def _expected(left, right):
    """The composite of two 28×28 images: each padded to its place on a 36×36 canvas (left
    at 0, right at 6), the brighter pixel kept, shrunk by PIL's nearest filter."""
    canvas = np.maximum(np.pad(left, ((0, 8), (0, 8))), np.pad(right, ((6, 2), (6, 2))))
    return np.asarray(Image.fromarray(canvas).resize((28, 28), Image.NEAREST))


def test_a_composite_is_the_canvas_shrunk_as_pil_shrinks_it():
    rng = np.random.default_rng(7)
    left = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    right = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    composites = multi_fashion.compose(left, right)
    assert composites.shape == (3, 28, 28, 1) and composites.dtype == np.uint8
    for index in range(3):
        np.testing.assert_array_equal(composites[index, ..., 0],
                                      _expected(left[index, ..., 0], right[index, ..., 0]))
    # By hand: output pixel i samples canvas pixel floor((i + 0.5) * 36 / 28).
    first = composites[0, ..., 0]
    assert first[2, 2] == left[0, 3, 3, 0]  # canvas (3, 3): the left image alone
    assert first[10, 10] == max(left[0, 13, 13, 0], right[0, 7, 7, 0])  # canvas (13, 13)
    assert first[25, 25] == right[0, 26, 26, 0]  # canvas (32, 32): the right image alone
    assert not first[26:].any() and not first[:, 26:].any()  # canvas rows 34, 35: empty


def _canvas(pixels):
    """The canvas pixel under the centre of output pixel(s) `pixels` (checked against PIL in
    the first test): floor((i + 0.5) * 36 / 28)."""
    return (2 * np.asarray(pixels) + 1) * 36 // 56


# Two bands of a composite that hold one source image alone: rows 0-4 (canvas rows 0-5,
# above the right image) × columns 0-21 (canvas columns 0-27) show the left one; rows 22-25
# (canvas rows 28-32, below the left image) × columns 5-25 (canvas 7-32) the right one.
TOP_ROWS, TOP_COLUMNS = np.arange(0, 5), np.arange(0, 22)
BOTTOM_ROWS, BOTTOM_COLUMNS = np.arange(22, 26), np.arange(5, 26)


def _band_pixels(composite):
    """The number of lit pixels in the emptier of `composite`'s two bands."""
    return min(np.count_nonzero(composite[TOP_ROWS][:, TOP_COLUMNS]),
               np.count_nonzero(composite[BOTTOM_ROWS][:, BOTTOM_COLUMNS]))


def _sources_of(composite, pool):
    """The (i, j) of the images of `pool` whose composite (i left, j right) is `composite`."""
    top = pool[:, _canvas(TOP_ROWS)][:, :, _canvas(TOP_COLUMNS)]
    bottom = pool[:, _canvas(BOTTOM_ROWS) - 6][:, :, _canvas(BOTTOM_COLUMNS) - 6]
    lefts = np.flatnonzero((top == composite[TOP_ROWS][:, TOP_COLUMNS]).all(axis=(1, 2)))
    rights = np.flatnonzero((bottom == composite[BOTTOM_ROWS][:, BOTTOM_COLUMNS]).all(axis=(1, 2)))
    return [(i, j) for i in lefts for j in rights
            if np.array_equal(_expected(pool[i], pool[j]), composite)]


def test_each_split_pairs_its_own_images(tmp_path):
    folder = write_fashion_mnist_folder(tmp_path / "fm", train=40, test=20)
    raw = fashion_mnist.read_or_download(str(folder))
    data = multi_fashion.load_multi_fashion(config_lib.Config(
        dataset="multi_fashion", data_dir=str(folder), validation_size=10))
    assert [task.name for task in data.tasks] == ["left", "right"]
    assert all(list(task.class_names) == NAMES for task in data.tasks)
    assert (len(data.train), len(data.validation), len(data.test)) == (30, 10, 20)
    # Every source image there is; the composite's sources must come from its own split.
    pool = np.concatenate([raw["train"].images, raw["test"].images])[..., 0]
    pool_labels = np.concatenate([raw["train"].labels["fine"], raw["test"].labels["fine"]])
    owners = {"train": range(0, 30), "validation": range(30, 40), "test": range(40, 60)}
    for name, split in (("train", data.train), ("validation", data.validation),
                        ("test", data.test)):
        for index in range(len(split)):
            found = _sources_of(split.images[index, ..., 0], pool)
            assert len(found) == 1, (name, index, found)
            left, right = found[0]
            assert left == owners[name][index] and right in owners[name] and right != left
            assert split.labels["left"][index] == pool_labels[left]
            assert split.labels["right"][index] == pool_labels[right]


def test_the_same_data_in_every_run_and_heads_to_pick(tmp_path):
    folder = write_fashion_mnist_folder(tmp_path / "fm")

    def load(**overrides):
        return multi_fashion.load_multi_fashion(config_lib.Config(
            dataset="multi_fashion", data_dir=str(folder), validation_size=5, **overrides))

    first, again, other_seed = load(), load(), load(seed=3)
    for split in ("train", "validation", "test"):
        for data in (again, other_seed):
            np.testing.assert_array_equal(getattr(first, split).images, getattr(data, split).images)
            np.testing.assert_array_equal(getattr(first, split).labels["right"],
                                          getattr(data, split).labels["right"])
    only_right = load(heads="right")
    assert [task.name for task in only_right.tasks] == ["right"]
    assert list(only_right.test.labels) == ["right"]
    np.testing.assert_array_equal(only_right.test.labels["right"], first.test.labels["right"])
    for heads in ("left,top", "left,left"):
        with pytest.raises(errors.UserError, match="multi_fashion's heads are left and right"):
            load(heads=heads)
    assert first.mirror_keeps_labels is False


def _crops(images):
    """Every pad-4 crop of every image, flattened: (count × 81, 28·28·C)."""
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    return np.stack([padded[:, top:top + 28, left:left + 28]
                     for top in range(9) for left in range(9)], axis=1).reshape(
                         len(images) * 81, -1)


def _mirrored_only(batch, images):
    """How many images of `batch` are a crop of a mirrored training image, of no plain one."""
    plain = {crop.tobytes() for crop in _crops(images)}
    mirrored = {crop.tobytes() for crop in _crops(images[:, :, ::-1])}
    keys = [image.tobytes() for image in batch.reshape(len(batch), -1)]
    assert all(key in plain or key in mirrored for key in keys)  # crops, nothing else
    return sum(key in mirrored and key not in plain for key in keys)


def test_training_images_are_cropped_but_never_mirrored(tmp_path):
    config = config_lib.Config(dataset="multi_fashion", synthetic=True, synthetic_examples=64,
                               validation_size=0, batch_size=64, trunk="lenet")
    experiment = preparation.prepare(config, str(tmp_path / "run"))
    batch = next(iter(train.make_datasets(experiment)[0]))[0].numpy()
    assert _mirrored_only(batch, experiment.data.train.images) == 0
    # The check sees flips where the data allows them.
    flipping = dataclasses.replace(experiment, data=dataclasses.replace(
        experiment.data, mirror_keeps_labels=True))
    batch = next(iter(train.make_datasets(flipping)[0]))[0].numpy()
    assert _mirrored_only(batch, experiment.data.train.images) > 10


def test_test_flip_is_refused_in_one_line(run_flags, capsys, tmp_path):
    line = refusal(run_flags, capsys, tmp_path / "run", "--dataset=multi_fashion", "--synthetic",
                   "--test_flip")
    assert line == ("--test_flip averages over mirrored test images, but multi_fashion's heads "
                    "name positions that a mirror moves; leave --test_flip off.")


def test_a_synthetic_run_predicts_both_articles_by_name(run_flags, tmp_path, capsys):
    workdir = tmp_path / "run"
    status = run_main(run_flags, "--dataset=multi_fashion", "--synthetic",
                      "--synthetic_examples=256", "--trunk=simple_cnn", "--epochs=1",
                      "--batch_size=64", "--warmup_epochs=0", f"--workdir={workdir}")
    assert status == 0
    composite = multi_fashion.compose(*np.split(
        np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8), 2))
    path = tmp_path / "composite.png"
    Image.fromarray(composite[0, ..., 0]).save(path)
    capsys.readouterr()
    assert cli.run_command("predict", ["predict", f"--workdir={workdir}", str(path), "--top_k=3",
                                       "--json"]) == 0
    answers = json.loads(capsys.readouterr().out)["images"][0]["heads"]
    assert set(answers) == {"left", "right"}
    for head in ("left", "right"):
        classes = answers[head]["classes"]
        assert len(classes) == 3 and all(item["name"] in NAMES for item in classes)


@pytest.fixture(scope="module")
def real():
    """Multi-Fashion of the real Fashion-MNIST images (Debian's package), and those images."""
    if not os.path.isdir(fashion_mnist.DEBIAN_DIR):
        if os.environ.get("CI"):
            pytest.fail(f"{fashion_mnist.DEBIAN_DIR} is missing: .ci/run installs it")
        pytest.skip("apt-get install -y dataset-fashion-mnist to run this test")
    data = multi_fashion.load_multi_fashion(config_lib.Config(dataset="multi_fashion",
                                                              validation_size=0))
    return data, fashion_mnist.read_or_download("")


def test_real_composites_hold_two_test_images(real):
    data, raw = real
    assert (len(data.train), len(data.test)) == (60000, 10000)
    np.testing.assert_array_equal(data.test.labels["left"], raw["test"].labels["fine"])
    pool = np.concatenate([raw["train"].images, raw["test"].images])[..., 0]
    # Composites whose two bands show enough of their images to find them (a blank band
    # would match thousands of images).
    shown = [index for index in range(500) if _band_pixels(data.test.images[index, ..., 0]) > 30]
    assert len(shown) > 100
    for index in shown[:25]:
        found = _sources_of(data.test.images[index, ..., 0], pool)
        # Found among all 70,000 images: both are test images (index 60,000 on), the left
        # one is test image `index`.
        assert found and all(left == 60000 + index and right >= 60000 for left, right in found)
        assert data.test.labels["right"][index] == raw["test"].labels["fine"][found[0][1] - 60000]


def test_a_short_run_learns_both_heads_on_the_real_images(real):
    data, _ = real
    test = data.test.take(slice(0, 2000))
    # 100 steps: measured 0.72-0.73 for each head (300 steps: 0.78-0.79).
    model = fit_briefly(data.tasks, "lenet", data.train.take(slice(0, 12800)), epochs=1)
    predictions = model.predict(test.images, verbose=0)
    for head in ("left", "right"):
        accuracy = np.mean(predictions[head].argmax(axis=1) == test.labels[head])
        assert accuracy > 0.6, (head, accuracy)  # chance: 0.1
