"""Label hierarchies: levels from finest to coarsest, each level's parent in the next.

The facts live in `hierarchies.json` beside this file (sources cited there); this
module turns them into `Hierarchy` objects that derive coarser labels from finer
ones and check that labels shipped with a dataset agree with the hierarchy.
"""

import dataclasses
import functools
import json
import pathlib

import numpy as np

from mtl_keras import errors

_FACTS_PATH = pathlib.Path(__file__).with_name("hierarchies.json")


@dataclasses.dataclass(frozen=True)
class Hierarchy:
    """A chain of label levels, finest first.

    Attributes:
      levels: level names, finest first, e.g. ("fine", "coarse").
      class_names: level name → tuple of class names.
      parents: level name → int array mapping each class of that level to its
        parent class in the next coarser level (absent for the coarsest level).
    """

    levels: tuple
    class_names: dict
    parents: dict

    def num_classes(self, level):
        """Returns the number of classes of `level`."""
        return len(self.class_names[level])

    def derive(self, finest_labels):
        """Returns {level: labels} for every level, derived from the finest labels."""
        labels = {self.levels[0]: np.asarray(finest_labels)}
        for finer, coarser in zip(self.levels, self.levels[1:]):
            labels[coarser] = self.parents[finer][labels[finer]]
        return labels

    def check(self, labels, where):
        """Raises UserError if shipped labels of adjacent levels disagree with the hierarchy.

        Args:
          labels: {level: int array}; levels absent from the dict are not checked.
          where: a phrase naming the data, for the error message.
        """
        for level in self.levels:
            if level in labels:
                bad = np.flatnonzero((labels[level] < 0) | (labels[level] >= self.num_classes(level)))
                if bad.size:
                    raise errors.UserError(
                        f"{where}: {bad.size} examples have a {level} label outside 0.."
                        f"{self.num_classes(level) - 1} (first: example {bad[0]}, "
                        f"{level}={labels[level][bad[0]]}); the files are not the expected dataset."
                    )
        for finer, coarser in zip(self.levels, self.levels[1:]):
            if finer not in labels or coarser not in labels:
                continue
            expected = self.parents[finer][labels[finer]]
            wrong = np.flatnonzero(expected != labels[coarser])
            if wrong.size:
                first = wrong[0]
                raise errors.UserError(
                    f"{where}: {wrong.size} of {len(expected)} examples have a {coarser} label "
                    f"that is not the parent of their {finer} label (first: example {first}, "
                    f"{finer}={labels[finer][first]}, {coarser}={labels[coarser][first]}, "
                    f"expected {expected[first]}); the data does not match the published "
                    f"hierarchy, so check that the files are the original ones."
                )


@functools.lru_cache(maxsize=None)
def _facts():
    with open(_FACTS_PATH, encoding="utf-8") as facts_file:
        return json.load(facts_file)


def names():
    """Returns the datasets that have a published hierarchy."""
    return sorted(name for name in _facts() if not name.startswith("_"))


def levels(dataset):
    """Returns all levels of `dataset`'s hierarchy, finest first."""
    return tuple(_facts()[dataset]["levels"])


def load(dataset, levels=None):
    """Returns the hierarchy of `dataset` restricted to `levels`.

    Args:
      dataset: a key of hierarchies.json, e.g. "cifar100".
      levels: the levels to keep, any subset of the dataset's levels in any order (they
        are put finest first); a skipped level's parent maps are composed. None keeps
        the dataset's default levels.

    Raises:
      UserError: a level the dataset does not have, or a level named twice.
    """
    facts = _facts()[dataset]
    available = facts["levels"]
    levels = list(levels or facts["default_levels"])
    unknown = [level for level in levels if level not in available]
    if unknown or len(set(levels)) != len(levels) or not levels:
        raise errors.UserError(
            f"--heads={','.join(levels)} is not a set of {dataset}'s levels; choose among "
            f"{', '.join(available)} (finest first), each once.")
    levels = sorted(levels, key=available.index)
    parents = {}
    for finer, coarser in zip(levels, levels[1:]):
        mapping = np.arange(len(facts["names"][finer]))
        for step in available[available.index(finer):available.index(coarser)]:
            mapping = np.asarray(facts["parents"][step], dtype=np.int64)[mapping]
        parents[finer] = mapping
    return Hierarchy(levels=tuple(levels),
                     class_names={level: tuple(facts["names"][level]) for level in levels},
                     parents=parents)

