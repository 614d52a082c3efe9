"""Task: the description of one output head, and the defaults of each kind of head."""

import dataclasses

from mtl_keras import errors

# kind → (output activation, default loss, default metrics)
KINDS = {
    "multiclass": ("softmax", "sparse_categorical_crossentropy", ("accuracy",)),
    "binary": ("sigmoid", "binary_crossentropy", ("accuracy", "auc")),
    "regression": ("linear", "mse", ("mae", "rmse")),
    "multilabel": ("sigmoid", "binary_crossentropy", ("accuracy", "auc")),
}


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
      metrics: registered metric names; empty means the kind's defaults (multiclass
        heads of more than 5 classes also get top-5 accuracy).
      weight: the head's weight in the summed loss.
      kind: "multiclass", "binary", "regression" or "multilabel".
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
        if self.kind not in KINDS:
            raise errors.UserError(
                f"Head {self.name!r} has kind {self.kind!r}; choose one of {', '.join(KINDS)}.")
        if self.kind in ("multiclass", "multilabel") and self.num_classes < 2:
            raise errors.UserError(
                f"Head {self.name!r} ({self.kind}) needs at least 2 classes, not {self.num_classes}.")

    @property
    def units(self):
        """Width of the head's output layer."""
        return self.num_classes if self.kind in ("multiclass", "multilabel") else 1

    @property
    def activation(self):
        """The output layer's activation."""
        return KINDS[self.kind][0]

    @property
    def loss_name(self):
        """The loss to use: the task's own, else its kind's default."""
        return self.loss or KINDS[self.kind][1]

    @property
    def metric_names(self):
        """The metrics to report: the task's own, else its kind's defaults."""
        if self.metrics:
            return tuple(self.metrics)
        defaults = KINDS[self.kind][2]
        if self.kind == "multiclass" and self.num_classes > 5:
            defaults += ("top5_accuracy",)
        return defaults
