"""Task: the description of one output head, and the defaults of each kind of head."""

import dataclasses
import math
import re

from mtl_keras import errors
from mtl_keras import heads

# A head's name becomes a Keras layer name, a TensorFlow name scope, the stem of its log
# names (history.csv columns, TensorBoard tags) and a key in flags (--loss_weights=NAME=1).
# Tried on TensorFlow 2.21 and Keras 3.15: spaces, non-ASCII letters and any of ,:='"[]%
# fail as name scopes, "/" as a layer name, a backslash as a variable name. This rule
# passes them all; its first character is one TensorFlow allows first in a root scope.
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
NAME_RULE_TEXT = "ASCII letters, digits, '_', '.' and '-', starting with a letter or a digit"
# The names of the model's other layers: the input, the heads' descriptions, the
# standardization, and the layers the trunks and architectures make, which Keras names after
# their class (dense, dense_1, ...). A head of the same name would be a second layer of that
# name, which Keras refuses; tests/models/test_head_names.py checks this list against every trunk
# and architecture.
MODEL_LAYER_NAMES = ("image", "head_descriptions", "standardize", "conv2d", "dense", "flatten",
                     "max_pooling2d", "global_average_pooling2d", "global_max_pooling2d",
                     "fused_batch_normalization", "re_lu", "add", "zero_pad_shortcut",
                     "expert_mixture", "cross_stitch", "concatenate", "multiply", "activation",
                     "selector_gate", "branch_choice")
_LAYER_NAME = re.compile(rf"(?:{'|'.join(MODEL_LAYER_NAMES)})(?:_\d+)?|.*_standardised")


def check_name(name, where=""):
    """Raises UserError unless `name` can name a head (see NAME_RULE).

    Args:
      name: the head's name.
      where: what declares it, for the message (e.g. "--tasks item 'age:regression'").
    """
    start = f"{where}: head name {name!r}" if where else f"Head name {name!r}"
    if not NAME_RULE.fullmatch(name):
        raise errors.UserError(f"{start} is not usable as a layer and log name; use "
                               f"{NAME_RULE_TEXT}.")
    if name.startswith("val_"):
        # Keras logs a head's validation figures as val_<head>_<metric>: a head "val_age"
        # would log under the same names as the validation figures of a head "age".
        raise errors.UserError(f"{start} starts with 'val_', which Keras gives validation "
                               f"figures; rename the head.")
    if _LAYER_NAME.fullmatch(name):
        raise errors.UserError(
            f"{start} is taken by a layer of the model itself (the names "
            f"{', '.join(MODEL_LAYER_NAMES)}, each also followed by _N, and any name ending in "
            f"_standardised); rename the head.")


def check_weight(name, weight, where):
    """Raises UserError unless `weight`, head `name`'s loss weight from `where`, is finite
    and not negative."""
    if not math.isfinite(weight) or weight < 0:
        raise errors.UserError(f"{where} gives head {name!r} the weight {weight}; a loss weight "
                               f"is a finite number, 0 or more.")


def check_heads(tasks):
    """Raises UserError when two heads share a name or would log a figure under the same name.

    Keras names a head's figures <head>_<metric>: heads "x" (with top-5 accuracy) and
    "x_top5" (with accuracy) would both log x_top5_accuracy.
    """
    owners, names = {}, set()
    for task in tasks:
        if task.name in names:
            raise errors.UserError(f"The head {task.name!r} is declared twice.")
        names.add(task.name)
        for metric in ("loss", *task.metric_names):
            key = f"{task.name}_{metric}"
            if key in owners:
                raise errors.UserError(f"Heads {owners[key]!r} and {task.name!r} would both log "
                                       f"{key!r} (history.csv, TensorBoard); rename one of them.")
            owners[key] = task.name


@dataclasses.dataclass(frozen=True)
class Task:
    """One output head of a multi-task model.

    Attributes:
      name: the head's name; also the output layer's name and the key of its labels,
        losses, metrics and loss weight.
      num_classes: classes of a multiclass head, labels of a multilabel head; 1 for
        binary and regression heads.
      class_names: names of the classes, index-aligned with the labels (binary: the
        names of 0 and 1).
      loss: a registered loss name or an import path `package.module:function`;
        empty means the kind's default.
      metrics: metric names its kind has (`heads`); empty means the kind's defaults
        (multiclass heads of more than 5 classes also get top-5 accuracy).
      weight: the head's weight in the summed loss.
      kind: a registered head kind (`mtl_keras.heads.KINDS`): "multiclass", "binary",
        "regression" or "multilabel".
      target_mean, target_std: regression targets are standardised with these for the
        loss; the model's output is in the original units.
    """

    name: str
    num_classes: int = 1
    class_names: tuple = ()
    loss: str = ""
    metrics: tuple = ()
    weight: float = 1.0
    kind: str = "multiclass"
    target_mean: float = 0.0
    target_std: float = 1.0

    def __post_init__(self):
        check_name(self.name)
        if self.kind not in heads.KINDS:
            raise errors.UserError(f"Head {self.name!r} has kind {self.kind!r}; choose one of "
                                   f"{', '.join(heads.KINDS.names())}.")
        self.head_kind.check(self)

    @property
    def head_kind(self):
        """The `heads.base.HeadKind` that decides what this head answers and how."""
        return heads.kind_of(self.kind)

    @property
    def units(self):
        """Width of the head's output layer."""
        return self.head_kind.units(self)

    @property
    def activation(self):
        """The output layer's activation."""
        return self.head_kind.activation

    @property
    def loss_name(self):
        """The loss to use: the task's own, else its kind's default."""
        return self.loss or self.head_kind.default_loss

    @property
    def metric_names(self):
        """The metrics it logs: the task's own, else its kind's defaults."""
        return tuple(self.metrics) or self.head_kind.default_metrics(self)
