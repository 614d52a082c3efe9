"""Turning the label cells of a user's table into arrays, masks and finished Tasks.

An empty cell means "label unknown": the example keeps a placeholder label and a mask
of 0 for that head, so that head ignores it while the other heads still learn from it.
"""

import numpy as np

from mtl_keras import errors
from mtl_keras import heads
from mtl_keras import tasks as tasks_lib

_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no"}


def encode(spec, cells, wheres):
    """Encodes one head's cells.

    Args:
      spec: the head's `task_spec.TaskSpec`.
      cells: the cell strings, one per example ("" = unknown).
      wheres: for each example, "file:line" naming it in error messages.

    Returns:
      (labels, mask, class_names): labels shaped as `source.Split` wants them, mask of
      1.0 (known) / 0.0 (unknown), and the class names (declared or found).
    """
    mask = np.array([cell != "" for cell in cells], dtype=np.float32)
    kind = heads.kind_of(spec.kind)
    if not kind.takes_classes:
        return _values(cells, wheres), mask, ()
    names = spec.class_names
    if not names and spec.num_classes:
        names = tuple(str(index) for index in range(spec.num_classes))
    if not names and kind.class_count == 2:
        return kind.encode([[_flag(spec, cell, where)] if cell else []
                            for cell, where in zip(cells, wheres)], 2), mask, ("0", "1")
    if not names:
        names = _found_classes(spec, (cell for cell in cells if cell))
    index = {name: position for position, name in enumerate(names)}
    # A cell may join several labels with ";" (multilabel); a single-label kind takes one.
    ids = [[_lookup(index, label, spec, where) for label in _labels_of(kind, cell)]
           for cell, where in zip(cells, wheres)]
    return kind.encode(ids, len(names)), mask, names


def _labels_of(kind, cell):
    if not cell:
        return []
    if kind.units_per_class:
        return [label for label in (part.strip() for part in cell.split(";")) if label]
    return [cell]


def make_task(spec, class_names, train_labels, train_mask):
    """Returns the finished `Task`; regression heads get their training targets' statistics."""
    known = train_mask > 0
    if not known.any():
        raise errors.UserError(f"Head {spec.name!r} has no known label in the training split.")
    mean, std = 0.0, 1.0
    if not heads.kind_of(spec.kind).takes_classes:  # values: standardised for the loss
        values = train_labels[known]
        mean, std = float(values.mean()), float(values.std()) or 1.0
    return tasks_lib.Task(spec.name, num_classes=len(class_names) or 1, class_names=class_names,
                          loss=spec.loss, weight=spec.weight, kind=spec.kind,
                          target_mean=mean, target_std=std)


def _values(cells, wheres):
    values = np.zeros((len(cells), 1), np.float32)
    for row, (cell, where) in enumerate(zip(cells, wheres)):
        if cell:
            try:
                values[row, 0] = float(cell)
            except ValueError:
                raise errors.UserError(
                    f"{where}: regression target {cell!r} is not a number.") from None
            if not np.isfinite(values[row, 0]):
                raise errors.UserError(f"{where}: regression target {cell!r} is not finite.")
    return values


def _flag(spec, cell, where):
    """1 for 1/true/yes, 0 for 0/false/no."""
    if cell.lower() in _TRUE:
        return 1
    if cell.lower() not in _FALSE:
        raise errors.UserError(
            f"{where}: binary label {cell!r} of head {spec.name!r} is not 0/1, true/false or "
            f"yes/no; name the two classes in --tasks ({spec.name}:binary:NAME0|NAME1).")
    return 0


def _found_classes(spec, cells):
    found = sorted(set(cells))
    if all(cell.isdigit() for cell in found):
        found.sort(key=int)
    if len(found) < 2:
        raise errors.UserError(f"Head {spec.name!r} has fewer than two distinct labels ({found}); "
                               f"a multiclass head needs at least two classes.")
    return tuple(found)


def _lookup(index, label, spec, where):
    if label not in index:
        raise errors.UserError(
            f"{where}: label {label!r} of head {spec.name!r} is not one of its classes "
            f"({', '.join(list(index)[:10])}{', ...' if len(index) > 10 else ''}).")
    return index[label]
