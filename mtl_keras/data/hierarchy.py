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


def cifar100():
    """Returns CIFAR-100's fine (100) → coarse (20) hierarchy."""
    facts = _facts()["cifar100"]
    return Hierarchy(
        levels=("fine", "coarse"),
        class_names={"fine": tuple(facts["fine_names"]), "coarse": tuple(facts["coarse_names"])},
        parents={"fine": np.asarray(facts["fine_to_coarse"], dtype=np.int64)},
    )
