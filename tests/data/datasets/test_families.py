"""Task families: which classes form each task, one-vs-rest labels, Omniglot's alphabets and
drawer split, and the standard classifier's outputs read per task."""

import dataclasses
import io
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data.datasets import cifar100_tasks
from mtl_keras.data.datasets import fashion_mnist_ovr
from mtl_keras.data.datasets import omniglot
from mtl_keras.data.labels import families

from helpers import CifarArchiveMaker
from helpers import write_fashion_mnist_folder


def test_cifar100_task_i_is_superclass_i_among_its_fine_classes_by_fine_id(cifar_hierarchy):
    tasks, members = cifar100_tasks.superclass_tasks(cifar_hierarchy)
    assert len(tasks) == 20 and all(task.num_classes == 5 for task in tasks)
    # From CIFAR-100's meta file: the first two superclasses and their fine ids.
    assert tasks[0].name == "aquatic_mammals"
    assert members["aquatic_mammals"] == (4, 30, 55, 72, 95)
    assert tasks[0].class_names == ("beaver", "dolphin", "otter", "seal", "whale")
    assert members["fish"] == (1, 32, 67, 73, 91)
    assert tasks[1].class_names == ("aquarium_fish", "flatfish", "ray", "shark", "trout")
    assert sorted(index for fine in members.values() for index in fine) == list(range(100))


def test_cifar100_tasks_label_each_image_for_its_superclass_only(tmp_path, cifar_hierarchy):
    archives = CifarArchiveMaker(tmp_path, cifar_hierarchy, num_train=300, num_test=200)
    archive = archives.python()
    config = config_lib.Config(dataset="cifar100_tasks", archive=archive, validation_size=0)
    data = cifar100_tasks.load_cifar100_tasks(config)
    fine, coarse = archives.fine["train"], archives.coarse["train"]
    names = [task.name for task in data.tasks]
    for row in range(len(fine)):
        known = [name for name in names if data.train.masks[name][row] == 1]
        assert known == [names[coarse[row]]]
        siblings = sorted(np.flatnonzero(archives.hierarchy.parents["fine"] == coarse[row]))
        assert data.train.labels[known[0]][row] == siblings.index(fine[row])
    assert data.family.classes["train"].tolist() == fine.tolist()


def test_one_vs_rest_owners_give_each_task_half_its_class_and_even_negatives():
    classes = np.repeat(np.arange(4), 12)  # 4 classes of 12 images
    owners = families.one_vs_rest_owners(classes, 4, seed=3)
    counts = np.zeros((4, 4), int)  # [task, class]
    np.add.at(counts, (owners, classes), 1)
    # Task c: 6 of its own class; the other 6 of class c go 2 to each other task.
    assert np.diag(counts).tolist() == [6, 6, 6, 6]
    assert (counts[~np.eye(4, dtype=bool)] == 2).all()


def test_fashion_mnist_one_vs_rest_labels(tmp_path):
    folder = write_fashion_mnist_folder(tmp_path / "fmnist", train=200, test=100)
    config = config_lib.Config(dataset="fashion_mnist_ovr", data_dir=str(folder), validation_size=0)
    data = fashion_mnist_ovr.load_fashion_mnist_ovr(config)
    assert [task.name for task in data.tasks][:2] == ["T-shirt_top", "Trouser"]
    assert all(task.kind == "binary" for task in data.tasks)
    article = data.family.classes["train"]
    masks = np.stack([data.train.masks[task.name] for task in data.tasks], axis=1)
    assert (masks.sum(axis=1) == 1).all()  # every image belongs to one task
    for index, task in enumerate(data.tasks):
        own = masks[:, index] == 1
        assert data.train.labels[task.name][own, 0].tolist() == (article[own] == index).tolist()


def test_family_refuses_heads():
    with pytest.raises(errors.UserError, match="task family"):
        families.make_source("x", {}, (), {}, config_lib.Config(heads="fine"))


def _png(value):
    return tf.io.encode_png(np.full((12, 12, 1), value, np.uint8)).numpy()


def _omniglot_zip(path, alphabets, folder="images_background_small1"):
    with zipfile.ZipFile(path, "w") as archive:
        for alphabet, characters in alphabets.items():
            for character in range(1, characters + 1):
                for drawer in range(1, 21):
                    name = f"{folder}/{alphabet}/character{character:02d}/0{character:03d}_{drawer:02d}.png"
                    archive.writestr(name, _png(drawer * 10))
    return str(path)


@pytest.fixture
def omniglot_zips(tmp_path):
    first = _omniglot_zip(tmp_path / "small1.zip", {"Greek": 3, "Japanese_(katakana)": 2})
    second = _omniglot_zip(tmp_path / "small2.zip", {"Greek": 3, "Tagalog": 2},
                           folder="images_background_small2")
    return f"{first},{second}"


def test_omniglot_one_task_per_alphabet_split_by_drawer(omniglot_zips):
    config = config_lib.Config(dataset="omniglot", archive=omniglot_zips, image_size=8)
    data = omniglot.load_omniglot(config)
    assert [(task.name, task.num_classes) for task in data.tasks] == [
        ("Greek", 3), ("Japanese_katakana", 2), ("Tagalog", 2)]
    assert data.tasks[0].class_names == ("character01", "character02", "character03")
    # Greek is in both zips and read once: 7 characters × 20 drawers.
    assert len(data.train) + len(data.validation) + len(data.test) == 7 * 20
    assert (len(data.train), len(data.validation), len(data.test)) == (7 * 14, 7 * 2, 7 * 4)
    # The images' grey value is 10 × their drawer: no drawer on two sides.
    drawers = {name: set((split.images[:, 0, 0, 0] // 10).tolist())
               for name, split in (("train", data.train), ("validation", data.validation),
                                   ("test", data.test))}
    assert drawers == {"train": set(range(1, 15)), "validation": {15, 16},
                       "test": {17, 18, 19, 20}}
    greek = data.test.masks["Greek"] == 1
    assert greek.sum() == 12 and data.test.labels["Greek"][greek].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert data.family.members["Tagalog"] == (5, 6)
    assert data.image_shape == (8, 8, 1)


def test_omniglot_without_validation_trains_on_drawers_15_and_16(omniglot_zips):
    config = config_lib.Config(dataset="omniglot", archive=omniglot_zips, image_size=8,
                               validation_size=0)
    data = omniglot.load_omniglot(config)
    assert data.validation is None and len(data.train) == 7 * 16
    with pytest.raises(errors.UserError, match="drawers 15 and 16"):
        omniglot.load_omniglot(dataclasses.replace(config, validation_size=100))


def test_omniglot_offline_without_archive_names_the_way_forward():
    with pytest.raises(errors.UserError, match="--archive="):
        omniglot.load_omniglot(config_lib.Config(dataset="omniglot"))


def test_a_missing_or_foreign_zip_is_bad_input(tmp_path):
    with pytest.raises(errors.UserError, match="does not exist"):
        omniglot.read_zips([str(tmp_path / "none.zip")])
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(errors.UserError, match="no Omniglot image"):
        omniglot.read_zips([str(other)])
    (tmp_path / "broken.zip").write_bytes(io.BytesIO(b"not a zip").getvalue())
    with pytest.raises(errors.UserError, match="not a readable zip"):
        omniglot.read_zips([str(tmp_path / "broken.zip")])


def test_the_standard_classifier_is_read_per_task():
    multiclass = tasks_lib.Task("letters", 2, ("a", "b"))
    binary = tasks_lib.Task("is_c", class_names=("other", "c"), kind="binary")
    family = families.Family(tasks=(multiclass, binary), class_names=("a", "b", "c"),
                             members={"letters": (0, 1), "is_c": (2,)}, splits={}, classes={})
    outputs = family.task_outputs(np.array([[0.2, 0.6, 0.2], [0.1, 0.1, 0.8]]))
    np.testing.assert_allclose(outputs["letters"], [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(outputs["is_c"], [[0.2], [0.8]])
