"""regression: one value in the targets' units; mean squared error on standardised targets.

The targets are standardised (the training split's mean and standard deviation) for the
loss, so that an age in years weighs like a cross-entropy; the output layer ends in a fixed
rescaling, so that the model (and the saved model) answers in the targets' units.
"""

import keras
import numpy as np
from keras import layers

from mtl_keras.heads import base


def _mae(task, predictions, labels):
    del task
    values, targets = base.rows(predictions, labels)
    return float(np.mean(np.abs(values - targets)))


def _rmse(task, predictions, labels):
    del task
    values, targets = base.rows(predictions, labels)
    return float(np.sqrt(np.mean(np.square(values - targets))))


@base.register("regression")
class Regression(base.HeadKind):
    """one value, in the targets' units"""

    default_loss = "mse"
    fitting_losses = ("mse", "mae", "huber")
    takes_classes = False
    metrics = {
        "mae": base.Metric("mae", lambda task: keras.metrics.MeanAbsoluteError(name="mae"),
                           _mae, lower_is_better=True),
        "rmse": base.Metric("rmse", lambda task: keras.metrics.RootMeanSquaredError(name="rmse"),
                            _rmse, lower_is_better=True),
    }

    def default_metrics(self, task):
        return ("mae", "rmse")

    def report_metrics(self, task):
        return ("mae", "rmse")

    def output(self, task, features):
        standardised = layers.Dense(1, dtype="float32", name=f"{task.name}_standardised")(features)
        return layers.Rescaling(task.target_std, offset=task.target_mean, dtype="float32",
                                name=task.name)(standardised)

    def loss_scale(self, task):
        return task.target_std

    def probe_batch(self, task):
        rows = np.arange(4)
        return ((task.target_mean + task.target_std * (rows % 3 - 1))[:, None].astype(np.float32),
                np.full((4, 1), task.target_mean, np.float32))

    def answer(self, task, output, class_names, top_k):
        return {"value": float(output[0])}

    def caption(self, task, prediction, label, known):
        truth = f" (true {float(np.ravel(label)[0]):.3g})" if known else ""
        return f"{task.name}: {float(np.ravel(prediction)[0]):.3g}{truth}", None
