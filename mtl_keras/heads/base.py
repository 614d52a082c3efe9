"""The head-kind registry, the base class every kind extends, and its metrics.

A head kind (multiclass, binary, regression, multilabel, ...) owns every decision that
depends on what a head answers: its output layer and activation, its default loss and
metrics, how many classes it needs, the scale of its loss, the batch a loss is checked
on, how a metric is computed for the logs (a Keras metric) and for metrics.json (the same
figure from the predictions), whether lower is better, how `predict` answers with it and
how an image's caption shows it. Code elsewhere asks the kind (`kind_of(task)`), never
compares kind names.

Adding a kind: one file in this folder with a `HeadKind` subclass registered by
`@register("name")`, one import line in `__init__.py`, a test.
"""

import dataclasses

import keras
import numpy as np
from keras import layers

from mtl_keras import errors
from mtl_keras import registry

KINDS = registry.Registry("head kind", docs="README.md#your-own-images")
# Losses by name: `--losses=HEAD=NAME` and a kind's `default_loss` name one of these (a
# kind's file may register its own); a loss(y_true, y_pred) returns one value per example.
LOSSES = registry.Registry("loss", flag="--losses")
for _name, _function in (("sparse_categorical_crossentropy",
                          keras.losses.sparse_categorical_crossentropy),
                         ("binary_crossentropy", keras.losses.binary_crossentropy),
                         ("mse", keras.losses.mean_squared_error),
                         ("mae", keras.losses.mean_absolute_error),
                         ("huber", keras.losses.huber)):
    LOSSES.add(_name, _function)
# The registered losses that train a head of probabilities against 0/1 targets.
PROBABILITY_LOSSES = ("binary_crossentropy", "mse", "mae", "huber")
# Probabilities, values and thresholds: a probability above this is a "yes".
THRESHOLD = 0.5


@dataclasses.dataclass(frozen=True)
class Metric:
    """One figure of a head, defined once for the training logs and for metrics.json.

    Attributes:
      name: its name in logs (`<head>_<name>`) and in metrics.json.
      keras: `task → keras.metrics.Metric` for the logs, or None (metrics.json only).
      compute: `(task, predictions, labels) → float`, on the examples with known labels.
      lower_is_better: whether a smaller value is better (errors), for Δm and checkpoints.
    """

    name: str
    keras: object
    compute: object
    lower_is_better: bool = False


class HeadKind:
    """Base class of the head kinds (see the module docstring).

    Attributes:
      name: the registered name.
      activation: the output layer's activation.
      default_loss: the loss a head of this kind trains with unless it names another.
      minimum_classes: the fewest classes (labels) a head of this kind may have.
      exclusive_classes: whether an image is in exactly one of the head's classes (a
        confusion matrix over its classes makes sense).
      metrics: {name: Metric} the kind can log and report.
    """

    name = ""
    activation = "linear"
    default_loss = ""
    minimum_classes = 1
    exclusive_classes = False
    metrics = {}
    # Declaring a head (--tasks, a tasks file): whether it takes classes, must declare them
    # (they cannot be found in the data), and how many it must have (None: any from 2).
    takes_classes = True
    needs_declared_classes = False
    class_count = None
    # The registered losses that can train a head of this kind (its default among them).
    fitting_losses = ()
    # Whether an example may have several of the classes (one output unit per class).
    units_per_class = False

    def units(self, task):
        """Width of the head's output layer."""
        del task
        return 1

    def default_metrics(self, task):
        """The metrics a head of this kind logs unless it names others."""
        del task
        return ()

    def report_metrics(self, task):
        """The metrics metrics.json gives for the head (default: the ones it logs)."""
        return tuple(task.metric_names)

    def check(self, task):
        """Raises UserError when `task` cannot be a head of this kind."""
        if task.num_classes < self.minimum_classes:
            raise errors.UserError(f"Head {task.name!r} ({self.name}) needs at least "
                                   f"{self.minimum_classes} classes, not {task.num_classes}.")
        unknown = [name for name in task.metric_names if self.metric(name) is None]
        if unknown:
            raise errors.UserError(
                f"Head {task.name!r} ({self.name}) names the metric(s) {', '.join(unknown)}; "
                f"a {self.name} head has {', '.join(self.metrics)}.")

    def metric(self, name):
        """The `Metric` called `name`, or None when the kind has none of that name."""
        return self.metrics.get(name)

    def output(self, task, features):
        """The head's output layer on `features`, named after the task; float32 even under
        mixed precision (the activation and the loss need the range)."""
        return layers.Dense(self.units(task), activation=self.activation, dtype="float32",
                            name=task.name)(features)

    def loss_scale(self, task):
        """What the head's targets and outputs are divided by in its loss."""
        del task
        return 1.0

    def probe_batch(self, task):
        """Float32 (labels, outputs) of a small batch shaped as the training step gives them
        to the head's loss (`losses.check_loss` tries a loss on it)."""
        raise NotImplementedError

    def answer(self, task, output, class_names, top_k):
        """One image's answer for `predict`, from the head's output row."""
        raise NotImplementedError

    def caption(self, task, prediction, label, known):
        """One caption line for one head of one validation image: (text, correct or None)."""
        raise NotImplementedError

    def declared_classes(self, classes, where, sources_name_classes=False):
        """(class count, class names) of a head declared with `classes` (None, a count as
        text, or names joined by |): (0, ()) when the data must tell.

        Raises:
          UserError: classes the kind refuses, lacks, or has the wrong number of.
        """
        if classes is None:
            if self.needs_declared_classes and not sources_name_classes:
                raise errors.UserError(f"{where}: a {self.name} head needs its classes (a count "
                                       f"or names).")
            return 0, ()
        if not self.takes_classes:
            raise errors.UserError(f"{where}: a {self.name} head takes no classes.")
        exactly = f"exactly {self.class_count}" if self.class_count else "at least 2"
        if classes.isdigit():
            count = int(classes)
            if count < 2 or self.class_count and count != self.class_count:
                raise errors.UserError(f"{where} declares {count} classes; a {self.name} head "
                                       f"needs {exactly}.")
            return count, ()
        names = tuple(part.strip() for part in classes.split("|"))
        if len(set(names)) != len(names) or len(names) < 2 or (
                self.class_count and len(names) != self.class_count):
            raise errors.UserError(f"{where} declares classes {classes!r}; give distinct names, "
                                   f"{exactly}.")
        return len(names), names

    def encode(self, ids, count):
        """The labels of a split from each example's class ids (a list per example; empty
        where unknown), shaped as `source.Split` wants them."""
        del count
        return np.array([row[0] if row else 0 for row in ids], dtype=np.int64)

    def predicted_classes(self, task, outputs, labels):
        """(true classes, predicted classes, class count) for a confusion matrix, or None
        when the kind's images are not in exactly one class."""
        del task, outputs, labels


def register(name):
    """A class decorator: registers one instance of a `HeadKind` subclass under `name`."""

    def decorate(cls):
        cls.name = name
        KINDS.register(name)(cls())
        return cls

    return decorate


def kind_of(task):
    """The `HeadKind` of `task` (or of a kind's name)."""
    return KINDS.get(task if isinstance(task, str) else task.kind)


def lower_is_better(metric):
    """Whether a smaller value of the metric named `metric` is better, for any kind."""
    return any(kind.metrics[metric].lower_is_better for kind in
               (entry.value for entry in KINDS.entries()) if metric in kind.metrics)


def class_name(names, index):
    """The name of class `index`, or its id where the head names none."""
    return str(names[index]) if index < len(names) else str(index)


def rows(predictions, labels):
    """Predictions and labels as (N, K) arrays."""
    return predictions.reshape(len(labels), -1), labels.reshape(len(labels), -1)


def threshold_accuracy(task, predictions, labels):
    """Share of (example, label) pairs whose probability falls on the label's side of 0.5."""
    del task
    scores, truth = rows(predictions, labels)
    return float(np.mean((scores > THRESHOLD) == (truth > THRESHOLD)))


def binary_auc(scores, labels):
    """Area under the ROC curve: the Mann-Whitney statistic, tied scores counted half."""
    labels = labels.astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # mean 1-based rank of each tie
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def mean_auc(task, predictions, labels):
    """The mean over labels of each label's ROC AUC (labels with one class only left out)."""
    del task
    scores, truth = rows(predictions, labels)
    aucs = [binary_auc(scores[:, column], truth[:, column] > THRESHOLD)
            for column in range(truth.shape[1])]
    return float(np.nanmean(aucs)) if not np.all(np.isnan(aucs)) else float("nan")
