"""standard: one classifier over all the classes a task family splits, scored per task.

The model has one head, `all_classes`, trained on every image with its class. Its test
figures per task (metrics.json "tasks") read its probabilities the way each task asks:
a multiclass task's own classes renormalised (the classifier made to choose among them),
a one-vs-rest task's positive class (`families.Family.task_outputs`).
"""

from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.protocols import base
from mtl_keras.reporting import metrics as metrics_lib

HEAD = "all_classes"


class Standard(base.Protocol):
    """One head over the family's whole label space."""

    def label(self, config):
        return "standard (one classifier)"

    def training_data(self, data, config):
        family = data.family
        if family is None:
            raise errors.UserError(
                f"--protocol=standard needs a task family, whose tasks split one label space "
                f"(cifar100_tasks, cifar10_ovr, fashion_mnist_ovr, omniglot); {data.name} is not.")
        count = len(family.class_names)
        head = tasks_lib.Task(HEAD, count, family.class_names,
                              metrics=("accuracy", "top5_accuracy") if count > 5 else ("accuracy",))

        def whole(key):
            split = family.splits[key]
            return None if split is None else source.Split(split.images,
                                                           {HEAD: family.classes[key]})

        return source.DataSource(name=data.name, tasks=(head,), train=whole("train"),
                                 validation=whole("validation"), test=whole("test"),
                                 synthetic=data.synthetic, family=family)

    def task_metrics(self, data, predictions, split):
        family = data.family
        labels = family.splits[split]
        outputs = family.task_outputs(predictions[HEAD])
        return {"tasks": metrics_lib.evaluate(family.tasks, None, outputs, labels.labels,
                                              labels.masks)["heads"]}


base.PROTOCOLS.register("standard")(Standard())
