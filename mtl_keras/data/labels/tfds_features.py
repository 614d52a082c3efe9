"""A TFDS dataset's features as the labels of heads: which features fit which kind, the
classes they name, and the tf function that turns an example into every head's label.

- multiclass: an integer feature; a `ClassLabel` names its classes, else declare them;
- binary: a bool feature (classes "no" and "yes" unless declared) or a 0/1 integer one;
- regression: a number;
- multilabel: a dict of bool features (their names are the classes), or a vector.

A feature is named by its path through nested dicts: `attributes/Smiling`. In --tasks,
`attributes/*:binary` stands for one binary head per feature of the `attributes` dict.
"""

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import heads

_BINARY_NAMES = ("no", "yes")


def expand_patterns(text, features):
    """--tasks with every `PATH/*:KIND...` item replaced by one item per feature under PATH."""
    items = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        target, colon, rest = item.partition(":")
        if not target.endswith("/*"):
            items.append(item)
            continue
        parent = target[:-2]
        group = lookup(features, parent, f"--tasks item {item!r}")
        if not hasattr(group, "keys"):
            raise errors.UserError(f"--tasks item {item!r}: feature {parent!r} is not a dict of "
                                   f"features, so '/*' has nothing to expand.")
        items += [f"{parent}/{key}{colon}{rest}" for key in group.keys()]
    return ",".join(items)


def lookup(features, path, where):
    """The feature at `path` ("a/b") of a TFDS `FeaturesDict`."""
    feature = features
    for part in path.split("/"):
        if not hasattr(feature, "keys") or part not in feature.keys():
            known = ", ".join(feature.keys()) if hasattr(feature, "keys") else "none"
            raise errors.UserError(f"{where}: the dataset has no feature {path!r} (features at "
                                   f"that level: {known}).")
        feature = feature[part]
    return feature


def class_names(spec, feature):
    """The classes of head `spec` (a `task_spec.TaskSpec`) read from `feature`."""
    where = f"head {spec.name!r} (feature {spec.source_name!r})"
    declared = spec.class_names or tuple(str(index) for index in range(spec.num_classes))
    kind = heads.kind_of(spec.kind)
    if not kind.takes_classes:
        _check_scalar(feature, where)
        return ()
    if kind.units_per_class:
        if hasattr(feature, "keys"):
            return declared or tuple(feature.keys())
        if len(feature.shape) != 1 or feature.shape[0] is None:
            raise errors.UserError(f"{where}: a {kind.name} head needs a dict of features or a "
                                   f"vector of fixed length.")
        return declared or tuple(str(index) for index in range(feature.shape[0]))
    _check_scalar(feature, where)
    names = declared or tuple(getattr(feature, "names", None) or ())
    if kind.class_count == 2:
        return names or _BINARY_NAMES
    if not names:
        raise errors.UserError(f"{where}: declare its classes (a count or names, "
                               f"{spec.name}=...:{kind.name}:N); the feature does not name them.")
    return names


def _check_scalar(feature, where):
    if hasattr(feature, "keys") or tuple(feature.shape) != ():
        raise errors.UserError(f"{where}: this kind of head needs a feature holding one number "
                               f"per example.")


def label_function(specs, features):
    """A tf function: a TFDS example → {head: label}, each shaped and typed as the pipeline
    and the metrics want it (`source.Split`)."""
    converters = {spec.name: _converter(spec, lookup(features, spec.source_name, "--tasks"))
                  for spec in specs}

    def labels(example):
        return {name: convert(example) for name, convert in converters.items()}

    return labels


def _converter(spec, feature):
    path = spec.source_name.split("/")

    def value(example):
        for part in path:
            example = example[part]
        return example

    kind = heads.kind_of(spec.kind)
    if kind.exclusive_classes:  # class ids
        return lambda example: tf.cast(value(example), tf.int32)
    if not kind.units_per_class:  # one number
        return lambda example: tf.reshape(tf.cast(value(example), tf.float32), [1])
    if hasattr(feature, "keys"):
        keys = list(feature.keys())
        return lambda example: tf.stack([tf.cast(value(example)[key], tf.float32) for key in keys])
    return lambda example: tf.cast(value(example), tf.float32)


def check_labels(tasks, labels, split):
    """Raises UserError when a label does not fit its head (a class id out of range, a
    binary or multilabel value other than 0 and 1, a number that is not finite)."""
    for task in tasks:
        values = labels[task.name]
        where = f"The {split} split's head {task.name!r}"
        kind = task.head_kind
        if kind.exclusive_classes and len(values) and not (
                0 <= values.min() and values.max() < task.num_classes):
            raise errors.UserError(f"{where} has class ids from {values.min()} to {values.max()}, "
                                   f"outside 0..{task.num_classes - 1}; declare its classes.")
        if (kind.takes_classes and not kind.exclusive_classes
                and not np.isin(values, (0.0, 1.0)).all()):
            raise errors.UserError(f"{where} has values other than 0 and 1; a {task.kind} head "
                                   f"needs true/false features.")
        if not np.isfinite(values).all():
            raise errors.UserError(f"{where} has values that are not finite numbers.")
