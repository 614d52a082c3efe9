"""multilabel: any of N labels, N sigmoids; binary cross-entropy per label."""

import keras
import numpy as np

from mtl_keras.heads import base


def _exact_match(task, predictions, labels):
    del task
    scores, truth = base.rows(predictions, labels)
    return float(np.mean(np.all((scores > base.THRESHOLD) == (truth > base.THRESHOLD), axis=1)))


@base.register("multilabel")
class Multilabel(base.HeadKind):
    """any of N labels (N sigmoids)"""

    activation = "sigmoid"
    default_loss = "binary_crossentropy"
    fitting_losses = base.PROBABILITY_LOSSES
    minimum_classes = 2
    needs_declared_classes = True
    units_per_class = True
    metrics = {
        "accuracy": base.Metric("accuracy", lambda task: keras.metrics.BinaryAccuracy(
            name="accuracy"), base.threshold_accuracy),
        "auc": base.Metric("auc", lambda task: keras.metrics.AUC(
            name="auc", multi_label=True, num_labels=task.num_classes), base.mean_auc),
        "exact_match": base.Metric("exact_match", None, _exact_match),
    }

    def encode(self, ids, count):
        labels = np.zeros((len(ids), count), np.float32)
        for row, indices in enumerate(ids):
            labels[row, list(indices)] = 1.0
        return labels

    def units(self, task):
        return task.num_classes

    def default_metrics(self, task):
        return ("accuracy", "auc")

    def report_metrics(self, task):
        return ("accuracy", "auc", "exact_match")

    def probe_batch(self, task):
        size = task.num_classes + 3
        rows = np.arange(size)
        return ((rows[:, None] + np.arange(task.num_classes)) % 2).astype(np.float32), np.full(
            (size, task.num_classes), 0.5, np.float32)

    def answer(self, task, output, class_names, top_k):
        order = np.argsort(-output, kind="stable")
        return {"labels": [{"name": class_names[index], "probability": float(output[index])}
                           for index in order if output[index] > base.THRESHOLD]}

    def caption(self, task, prediction, label, known):
        chosen = [base.class_name(task.class_names, index)
                  for index in np.flatnonzero(prediction > base.THRESHOLD)]
        correct = bool(np.all((prediction > base.THRESHOLD) == (np.ravel(label) > base.THRESHOLD)))
        return f"{task.name}: {', '.join(chosen) or '-'}", correct if known else None
