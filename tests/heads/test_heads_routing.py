"""Every --heads choice of every hierarchical dataset gives each head its own level's labels.

The expected labels are worked out here from the finest labels the test wrote into the
files and the parent lists of hierarchies.json, read directly: a version that routed
labels by position (with --heads=fine,top the top head would get the coarse ids) or
composed a skipped level wrongly gives other labels.
"""

import gzip
import itertools
import json
import pickle

import numpy as np
import pytest

from helpers import idx_bytes, python_batch, write_tar_gz
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras.data.labels import hierarchy as hierarchy_lib

with open(hierarchy_lib._FACTS_PATH, encoding="utf-8") as facts_file:
    FACTS = json.load(facts_file)


def _by_hand(dataset, labels, level, start=None):
    """The `level` labels of images whose `start` labels (default: the finest) are
    `labels`, one parent list of hierarchies.json at a time."""
    levels, labels = FACTS[dataset]["levels"], np.asarray(labels)
    for step in levels[levels.index(start or levels[0]):levels.index(level)]:
        labels = np.array([FACTS[dataset]["parents"][step][label] for label in labels])
    return labels


def _choices(dataset):
    """Every non-empty set of the dataset's levels, each given coarsest first (the
    loader puts them finest first)."""
    levels = FACTS[dataset]["levels"]
    return [subset[::-1] for size in range(1, len(levels) + 1)
            for subset in itertools.combinations(levels, size)]


def _cifar100(folder):
    # Every fine class once in training (shuffled), a few in the test split.
    fine = {"train": np.random.default_rng(0).permutation(100), "test": np.array([99, 0, 57, 23])}
    coarse = {split: _by_hand("cifar100", labels, "coarse") for split, labels in fine.items()}
    members = {f"cifar-100-python/{split}": python_batch(
        np.zeros((len(labels), 3072), np.uint8), labels, coarse[split])
        for split, labels in fine.items()}
    members["cifar-100-python/meta"] = pickle.dumps({}, protocol=2)
    return {"archive": write_tar_gz(folder / "c100.tar.gz", members)}, fine


def _cifar10(folder):
    fine = {"train": np.tile(np.arange(10), 5)[::-1], "test": np.array([3, 9, 0, 5])}
    members = {f"cifar-10-batches-py/data_batch_{index + 1}": pickle.dumps(
        {b"data": np.zeros((10, 3072), np.uint8), b"labels": fine["train"][10 * index:10 * index + 10]
         .tolist()}, protocol=2) for index in range(5)}
    members["cifar-10-batches-py/test_batch"] = pickle.dumps(
        {b"data": np.zeros((4, 3072), np.uint8), b"labels": fine["test"].tolist()}, protocol=2)
    return {"archive": write_tar_gz(folder / "c10.tar.gz", members)}, fine


def _fashion_mnist(folder):
    fine = {"train": np.arange(30) * 7 % 10, "test": np.array([9, 8, 1, 4])}
    names = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    for split, (images_name, labels_name) in names.items():
        (folder / images_name).write_bytes(
            gzip.compress(idx_bytes(np.zeros((len(fine[split]), 28, 28)))))
        (folder / labels_name).write_bytes(gzip.compress(idx_bytes(fine[split])))
    return {"data_dir": str(folder)}, fine


WRITERS = {"cifar100": _cifar100, "cifar10": _cifar10, "fashion_mnist": _fashion_mnist}


@pytest.mark.parametrize("dataset", sorted(WRITERS))
def test_every_heads_choice_routes_each_level_to_its_head(tmp_path, dataset):
    where, fine = WRITERS[dataset](tmp_path)
    levels = FACTS[dataset]["levels"]
    for choice in _choices(dataset):
        data = data_lib.load(config_lib.Config(dataset=dataset, heads=",".join(choice),
                                               validation_size=0, **where))
        chosen = sorted(choice, key=levels.index)
        assert [task.name for task in data.tasks] == chosen, choice
        for task in data.tasks:
            assert task.class_names == tuple(FACTS[dataset]["names"][task.name]), choice
            assert task.num_classes == len(FACTS[dataset]["names"][task.name]), choice
        for split_name, split in (("train", data.train), ("test", data.test)):
            assert set(split.labels) == set(chosen), choice
            for level in chosen:
                np.testing.assert_array_equal(split.labels[level],
                                              _by_hand(dataset, fine[split_name], level),
                                              err_msg=f"--heads={','.join(choice)}: {level}")
        if len(chosen) == 1:
            assert data.hierarchy is None
            continue
        # The hierarchy scored in metrics.json maps each chosen level to the next chosen
        # one, through any level skipped in between.
        assert data.hierarchy.levels == tuple(chosen)
        for finer, coarser in zip(chosen, chosen[1:]):
            classes = np.arange(len(FACTS[dataset]["names"][finer]))
            np.testing.assert_array_equal(data.hierarchy.parents[finer],
                                          _by_hand(dataset, classes, coarser, start=finer),
                                          err_msg=f"--heads={','.join(choice)}: {finer}")


def test_the_choices_cover_the_skipping_ones():
    assert ["top", "fine"] in [list(choice) for choice in _choices("cifar100")]
    assert len(_choices("cifar100")) == 7
