"""The hierarchy descriptions shipped in hierarchies.json, and level selection."""

import numpy as np
import pytest

from mtl_keras import errors
from mtl_keras.data.labels import hierarchy


@pytest.mark.parametrize("dataset,levels,sizes", [
    ("cifar100", ("fine", "coarse", "top"), (100, 20, 8)),
    ("cifar10", ("fine", "mid", "coarse"), (10, 7, 2)),
    ("fashion_mnist", ("fine", "mid", "coarse"), (10, 6, 2)),
])
def test_every_description_is_a_proper_tree(dataset, levels, sizes):
    assert hierarchy.levels(dataset) == levels
    full = hierarchy.load(dataset, levels)
    for level, size in zip(levels, sizes):
        assert full.num_classes(level) == size
    for finer, coarser in zip(levels, levels[1:]):
        parents = full.parents[finer]
        assert len(parents) == full.num_classes(finer)
        assert sorted(set(parents.tolist())) == list(range(full.num_classes(coarser)))  # onto
    assert dataset in hierarchy.names()


def test_default_levels_and_composition():
    assert hierarchy.load("cifar100").levels == ("fine", "coarse")
    assert hierarchy.load("fashion_mnist").levels == ("fine", "mid", "coarse")
    skip = hierarchy.load("cifar100", ["top", "fine"])  # any order, a level skipped
    assert skip.levels == ("fine", "top")
    full = hierarchy.load("cifar100", ["fine", "coarse", "top"])
    np.testing.assert_array_equal(skip.parents["fine"],
                                  full.parents["coarse"][full.parents["fine"]])
    # apple (0) → fruit_and_vegetables → plants
    assert skip.class_names["top"][skip.parents["fine"][0]] == "plants"


@pytest.mark.parametrize("levels", [["fine", "genus"], ["fine", "fine"], []])
def test_bad_level_choices(levels):
    if not levels:
        assert hierarchy.load("cifar100", levels).levels == ("fine", "coarse")  # empty → default
        return
    with pytest.raises(errors.UserError, match="is not a set of cifar100's levels"):
        hierarchy.load("cifar100", levels)
