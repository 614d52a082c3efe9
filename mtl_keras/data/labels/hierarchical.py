"""Datasets whose heads are the levels of a published label hierarchy.

A loader hands over its splits with the labels the data ships (the finest level, and
any coarser level the files carry, such as CIFAR-100's coarse label). Here those are
checked against the hierarchy, the levels the run asks for (`--heads`) are derived
from the finest labels, and the validation split is carved from training.
"""

import dataclasses

from mtl_keras import errors
from mtl_keras import tasks
from mtl_keras.data import source
from mtl_keras.data.labels import hierarchy as hierarchy_lib
from mtl_keras.data.labels import synthetic


def make_source(dataset, splits, config, synthetic_data=False):
    """Returns the `DataSource` of a hierarchical dataset.

    Args:
      dataset: the dataset's key in hierarchies.json (also the DataSource's name).
      splits: {"train": Split, "test": Split} with shipped labels keyed by level name.
      config: the run's Config (heads, validation_size).
      synthetic_data: whether the images are made up.
    """
    full = hierarchy_lib.load(dataset, hierarchy_lib.levels(dataset))
    chosen = hierarchy_lib.load(dataset, _heads(config))
    derived = {}
    for name, split in splits.items():
        full.check(split.labels, where=f"{dataset} {name} split")
        labels = full.derive(split.labels[full.levels[0]])
        derived[name] = dataclasses.replace(
            split, labels={level: labels[level] for level in chosen.levels})
    train, validation = source.carve_validation(derived["train"], config.validation_size)
    heads = tuple(
        tasks.Task(level, chosen.num_classes(level), chosen.class_names[level],
                   metrics=("accuracy", "top5_accuracy")
                   if position == 0 and chosen.num_classes(level) > 5 else ("accuracy",))
        for position, level in enumerate(chosen.levels))
    return source.DataSource(name=dataset, tasks=heads, train=train, validation=validation,
                             test=derived["test"],
                             hierarchy=chosen if len(chosen.levels) > 1 else None,
                             synthetic=synthetic_data)


def synthetic_splits(dataset, image_shape, config):
    """Made-up train and test splits shaped like `dataset`, labels consistent with its hierarchy."""
    full = hierarchy_lib.load(dataset, hierarchy_lib.levels(dataset))
    size = config.synthetic_examples
    return {"train": synthetic.make_split(full, size, image_shape, config.seed),
            "test": synthetic.make_split(full, max(size // 4, 1), image_shape, config.seed + 1)}


def _heads(config):
    heads = [head.strip() for head in config.heads.split(",") if head.strip()]
    if config.heads and not heads:
        raise errors.UserError(f"--heads={config.heads} names no level.")
    return heads or None
