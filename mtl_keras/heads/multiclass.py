"""multiclass: one class among N, a softmax; sparse categorical cross-entropy."""

import re

import keras
import numpy as np

from mtl_keras.heads import base


def _accuracy(task, predictions, labels):
    del task
    return float(np.mean(np.argmax(predictions, axis=1) == labels))


def top_k_accuracy(probabilities, labels, k):
    """Share of examples whose label is among the k most probable classes."""
    top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def _top_k_metric(k):
    """top<k>_accuracy, for any k."""
    name = f"top{k}_accuracy"
    return base.Metric(
        name, lambda task: keras.metrics.SparseTopKCategoricalAccuracy(k=k, name=name),
        lambda task, predictions, labels: top_k_accuracy(predictions, labels, k))


@base.register("multiclass")
class Multiclass(base.HeadKind):
    """one class among N (softmax)"""

    activation = "softmax"
    default_loss = "sparse_categorical_crossentropy"
    fitting_losses = ("sparse_categorical_crossentropy",)
    minimum_classes = 2
    exclusive_classes = True
    metrics = {
        "accuracy": base.Metric("accuracy", lambda task: keras.metrics.SparseCategoricalAccuracy(
            name="accuracy"), _accuracy),
    }  # and top<k>_accuracy for any k (`metric`)

    def metric(self, name):
        found = re.fullmatch(r"top([1-9][0-9]*)_accuracy", name)
        return _top_k_metric(int(found.group(1))) if found else self.metrics.get(name)

    def units(self, task):
        return task.num_classes

    def default_metrics(self, task):
        # Top-5 accuracy says something only where there are more than 5 classes.
        return ("accuracy", "top5_accuracy") if task.num_classes > 5 else ("accuracy",)

    def report_metrics(self, task):
        return ("accuracy", *(name for name in task.metric_names if name != "accuracy"))

    def probe_batch(self, task):
        # A batch size unlike any class count, so that a loss reducing the wrong axis shows.
        size = task.num_classes + 3
        return (np.arange(size) % task.num_classes).astype(np.float32), np.full(
            (size, task.num_classes), 1.0 / task.num_classes, np.float32)

    def answer(self, task, output, class_names, top_k):
        order = np.argsort(-output, kind="stable")[:top_k or None]  # stable: ties keep order
        return {"classes": [{"name": class_names[index], "probability": float(output[index])}
                            for index in order]}

    def caption(self, task, prediction, label, known):
        guess = int(np.argmax(prediction))
        text = f"{task.name}: {base.class_name(task.class_names, guess)} {prediction[guess]:.2f}"
        if known and guess != int(label):
            text += f" (true: {base.class_name(task.class_names, int(label))})"
        return text, (guess == int(label)) if known else None

    def predicted_classes(self, task, outputs, labels):
        return labels, np.argmax(outputs, axis=1), task.num_classes
