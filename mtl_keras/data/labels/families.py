"""Task families: tasks that split one label space, each task on images of its own.

A family's loader hands over its images with one label each, the image's class in the
family's label space (a Fashion-MNIST article, an Omniglot character), and says which
task owns each image. Every task becomes a head whose labels are known on its own images
only: elsewhere its mask is 0 (the per-head sample weights), so the masked loss and the
masked metrics skip those images and the same data serves every protocol.

Two ways to own images:
- `partition`: each class belongs to one task (CIFAR-100's fine classes to their
  superclass, Omniglot's characters to their alphabet); a task classifies its images
  among its classes.
- `one_vs_rest_owners`: task i answers "is this class i?" on a balanced share of the
  images of its own (see there).
"""

import dataclasses
import re

import numpy as np

from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source

CLASS = "class"  # the key of the family's own label in the Splits a loader hands over
OWNER = "owner"  # the key of the owning task's index, while the splits are built


@dataclasses.dataclass(frozen=True)
class Family:
    """How a family's tasks split one label space.

    Attributes:
      tasks: the family's tasks (heads), a tuple of `tasks.Task`.
      class_names: the names of the label space's classes.
      members: {task name: the class ids its outputs stand for}: a multiclass task's
        classes in output order; a binary (one-vs-rest) task's one positive class.
      splits: {"train", "validation", "test": the Split with per-task labels and masks};
        "validation" may be None.
      classes: the same keys → every image's class id in the label space.
    """

    tasks: tuple
    class_names: tuple
    members: dict
    splits: dict
    classes: dict

    def task_outputs(self, probabilities):
        """Turns a classifier's probabilities over all classes into each task's outputs.

        A multiclass task gets the probabilities of its own classes, renormalised (the
        classifier asked to choose among them); a one-vs-rest task the probability of its
        positive class.

        Args:
          probabilities: N×(number of classes).

        Returns:
          {task name: outputs shaped as that head's}.
        """
        outputs = {}
        for task in self.tasks:
            columns = probabilities[:, list(self.members[task.name])]
            if task.head_kind.exclusive_classes:  # a choice among its own classes
                columns = columns / np.maximum(columns.sum(axis=1, keepdims=True), 1e-12)
            outputs[task.name] = columns
        return outputs


def task_name(text):
    """A head name made from a class or alphabet name ("T-shirt/top" → "T-shirt_top")."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_.-")


def partition(classes, class_owner):
    """The owning task of every image when each class belongs to one task.

    Args:
      classes: every image's class id.
      class_owner: int array, the task index of each class.
    """
    return np.asarray(class_owner)[classes]


def one_vs_rest_owners(classes, num_classes, seed=0):
    """The owning task of every image for one-vs-rest tasks that see only their own images.

    Task c gets half of the images of class c (rounded up) as its positives; the other
    half is dealt in turn to the other tasks as their negatives. Every image belongs to
    one task, and each task's images are about half positive, its negatives drawn evenly
    from the other classes. The deal is seeded by the data, not the run: every protocol
    and seed sees the same tasks.

    Args:
      classes: every image's class id, 0..num_classes-1.
      num_classes: the number of classes, which is the number of tasks.
      seed: the seed of the deal.
    """
    rng = np.random.default_rng(seed)
    owners = np.empty(len(classes), np.int64)
    for positive in range(num_classes):
        images = rng.permutation(np.flatnonzero(classes == positive))
        half = (len(images) + 1) // 2
        others = np.array([task for task in range(num_classes) if task != positive])
        owners[images[:half]] = positive
        owners[images[half:]] = others[np.arange(len(images) - half) % len(others)]
    return owners


def one_vs_rest_splits(splits, num_classes):
    """Splits labelled {"fine": class ids} → the same labelled {CLASS, OWNER} for
    one-vs-rest tasks (`one_vs_rest_owners`)."""
    return {key: dataclasses.replace(split, labels={
        CLASS: split.labels["fine"],
        OWNER: one_vs_rest_owners(split.labels["fine"], num_classes)})
        for key, split in splits.items()}


def one_vs_rest_tasks(class_names):
    """The binary tasks "is it class c?", one per class, and their members."""
    tasks = tuple(tasks_lib.Task(task_name(name), class_names=("other", name), kind="binary")
                  for name in class_names)
    return tasks, {task.name: (index,) for index, task in enumerate(tasks)}


def one_vs_rest_source(name, class_names, splits, config):
    """The `DataSource` of one-vs-rest tasks over `class_names`, from splits labelled
    {"fine": class ids}."""
    tasks, members = one_vs_rest_tasks(class_names)
    return make_source(name, one_vs_rest_splits(splits, len(class_names)), tasks, members, config,
                       synthetic_data=config.synthetic)


def make_source(name, splits, tasks, members, config, synthetic_data=False):
    """Returns the `DataSource` of a task family.

    Args:
      name: the registered dataset name.
      splits: {"train", "test"[, "validation"]: Split of images with labels {CLASS: class
        ids, OWNER: owning task index}}. Without "validation", it is carved from the end
        of "train" (--validation_size).
      tasks: the heads, in owner-index order.
      members: {task name: class ids}, as `Family.members`.
      config: the run's Config.
      synthetic_data: whether the images are made up.
    """
    if config.heads:
        raise errors.UserError(f"--heads picks levels of a hierarchy; {name} is a task family "
                               f"whose tasks are fixed (--protocol=single_task --task=NAME "
                               f"trains one of them).")
    if "validation" not in splits:
        train, validation = source.carve_validation(splits["train"], config.validation_size)
        splits = {"train": train, "validation": validation, "test": splits["test"]}
    per_task = {key: None if split is None else _task_split(split, tasks, members)
                for key, split in splits.items()}
    for task in tasks:
        if not per_task["train"].masks[task.name].any():
            raise errors.UserError(f"Task {task.name!r} of {name} has no training image; check "
                                   f"the data's files.")
    classes = {key: None if split is None else split.labels[CLASS] for key, split in splits.items()}
    family = Family(tasks=tuple(tasks), class_names=_class_names(tasks, members), members=members,
                    splits=per_task, classes=classes)
    return source.DataSource(name=name, tasks=tuple(tasks), train=per_task["train"],
                             validation=per_task["validation"], test=per_task["test"],
                             synthetic=synthetic_data, family=family)


def _class_names(tasks, members):
    """The label space's class names, from the tasks' class names (each prefixed with its
    task's name where tasks share class names, as Omniglot's alphabets do)."""
    names, prefixed = {}, {}
    for task in tasks:
        if not task.head_kind.exclusive_classes:  # one-vs-rest: its one positive class
            names[members[task.name][0]] = prefixed[members[task.name][0]] = task.class_names[1]
            continue
        for index, name in zip(members[task.name], task.class_names):
            names[index], prefixed[index] = name, f"{task.name}/{name}"
    chosen = names if len(set(names.values())) == len(names) else prefixed
    return tuple(chosen[index] for index in range(len(chosen)))


def _task_split(split, tasks, members):
    """Per-task labels and masks of a split handed over with CLASS and OWNER labels."""
    classes, owners = split.labels[CLASS], split.labels[OWNER]
    labels, masks = {}, {}
    for index, task in enumerate(tasks):
        mine = owners == index
        task_classes = np.asarray(members[task.name])
        if not task.head_kind.exclusive_classes:  # one-vs-rest
            labels[task.name] = (classes == task_classes[0]).astype(np.float32)[:, None]
        else:
            position = np.zeros(max(classes.max(), task_classes.max()) + 1, np.int64)
            position[task_classes] = np.arange(len(task_classes))
            labels[task.name] = np.where(mine, position[classes], 0)
        masks[task.name] = mine.astype(np.float32)
    return source.Split(split.images, labels, masks)
