"""binary: yes or no, one sigmoid; binary cross-entropy. Its class names name 0 and 1."""

import keras
import numpy as np

from mtl_keras.heads import base


@base.register("binary")
class Binary(base.HeadKind):
    """yes or no (one sigmoid)"""

    activation = "sigmoid"
    default_loss = "binary_crossentropy"
    fitting_losses = base.PROBABILITY_LOSSES
    class_count = 2
    metrics = {
        "accuracy": base.Metric("accuracy", lambda task: keras.metrics.BinaryAccuracy(
            name="accuracy"), base.threshold_accuracy),
        "auc": base.Metric("auc", lambda task: keras.metrics.AUC(name="auc"), base.mean_auc),
    }

    def encode(self, ids, count):
        return np.array([[row[0] if row else 0] for row in ids], dtype=np.float32)

    def default_metrics(self, task):
        return ("accuracy", "auc")

    def report_metrics(self, task):
        return ("accuracy", "auc")

    def probe_batch(self, task):
        rows = np.arange(4)
        return (rows[:, None] % 2).astype(np.float32), np.full((4, 1), 0.5, np.float32)

    def answer(self, task, output, class_names, top_k):
        # The class it predicts and that class's probability ("footwear: no 0.999", never the
        # probability of "yes" beside a name that reads as the answer), then both classes'.
        positive = float(output[0])
        guess = int(positive > base.THRESHOLD)
        return {"name": class_names[guess], "probability": positive if guess else 1 - positive,
                "probabilities": {class_names[0]: 1 - positive, class_names[1]: positive}}

    def caption(self, task, prediction, label, known):
        guess = int(prediction[0] > base.THRESHOLD)
        text = (f"{task.name}: {base.class_name(task.class_names, guess)} "
                f"{max(prediction[0], 1 - prediction[0]):.2f}")
        return text, (guess == int(np.ravel(label)[0] > base.THRESHOLD)) if known else None

    def predicted_classes(self, task, outputs, labels):
        return np.ravel(labels) > base.THRESHOLD, np.ravel(outputs) > base.THRESHOLD, 2
