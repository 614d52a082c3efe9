"""Task: the description of one output head."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Task:
    """One output head of a multi-task model.

    Attributes:
      name: the head's name; also the output layer's name and the key of its labels,
        losses, metrics and loss weight.
      num_classes: number of classes (multiclass heads).
      class_names: optional names of the classes, index-aligned with the labels.
      loss: name of a registered loss (see `training.losses.LOSSES`).
      metrics: names of registered metrics (see `training.losses.METRICS`).
      weight: the head's weight in the summed loss.
    """

    name: str
    num_classes: int
    class_names: tuple = ()
    loss: str = "sparse_categorical_crossentropy"
    metrics: tuple = ("accuracy",)
    weight: float = 1.0
