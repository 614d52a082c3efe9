"""Finished runs' test scores per head against trivial baselines, with the batch-norm
moving statistics as trained and as re-estimated on the training images.

    python benchmarks/small_folder_report.py RUN_FOLDER [RUN_FOLDER ...]

For each folder written by `mtl_keras.run`, reloads the data its config.json describes and
its model.keras, and prints a line per head: the trivial baseline on the test split (the
accuracy of the training split's majority class, or the mean absolute error of the training
split's mean), the model's test score as saved, and its test score once every batch-norm
layer's moving statistics are replaced by the plain average of the batch moments over 40
batches of 128 training images (weights unchanged). The gap between the last two is what
the moving averages cost.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mtl_keras import config as config_lib  # noqa: E402
from mtl_keras import data as data_lib  # noqa: E402
from mtl_keras.models import batch_norm  # noqa: E402
from mtl_keras.models import build  # noqa: E402, F401  (registers the layers for loading)
from mtl_keras.reporting import metrics as metrics_lib  # noqa: E402
from mtl_keras.training import optimizers  # noqa: E402, F401  (registers the schedules)


def trivial_baseline(task, train, test):
    """The majority class's test accuracy, or the training mean's test MAE, for one head."""
    def known(split):
        labels = split.labels[task.name]
        mask = split.masks[task.name] > 0 if split.masks is not None else slice(None)
        return labels[mask].reshape(-1)

    train_labels, test_labels = known(train), known(test)
    if task.kind == "regression":
        return float(np.mean(np.abs(test_labels - train_labels.mean())))
    values, counts = np.unique(train_labels, return_counts=True)
    return float(np.mean(test_labels == values[np.argmax(counts)]))


def reestimate_statistics(model, images, batches=40, batch_size=128, seed=0):
    """Sets every batch-norm layer's moving statistics to the mean of its batch moments."""
    layers = [layer for layer in model.layers
              if isinstance(layer, batch_norm.FusedBatchNormalization)]
    for layer in layers:
        layer.moving_mean.assign(np.zeros(layer.moving_mean.shape))
        layer.moving_variance.assign(np.ones(layer.moving_variance.shape))
    draw = np.random.default_rng(seed)
    for index in range(batches):
        for layer in layers:  # read at each eager call: a running mean over the batches
            layer.momentum = 1.0 - 1.0 / (index + 1)
        model(images[draw.choice(len(images), min(batch_size, len(images)), replace=False)],
              training=True)
    return len(layers)


def report(workdir):
    """Prints the run's per-head lines."""
    keras.backend.clear_session()  # one model at a time: no retracing across runs
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as config_file:
        values = json.load(config_file)
    fields = config_lib.Config.__dataclass_fields__
    config = config_lib.Config(**{name: value for name, value in values.items()
                                  if name in fields and name != "workdir"})
    data = data_lib.load(config)
    model = keras.models.load_model(os.path.join(workdir, "model.keras"), compile=False)

    def score():
        predictions = model.predict(data.test.images, batch_size=256, verbose=0)
        return metrics_lib.evaluate(data.tasks, None, predictions, data.test.labels,
                                    data.test.masks)["heads"]

    saved = score()
    reestimated = score() if reestimate_statistics(model, data.train.images) else None
    print(f"{workdir}: {len(data.train)} training images, batch {config.batch_size}, "
          f"{config.optimizer} at {config.learning_rate:g}, batch-norm momentum "
          f"{config.batch_norm_momentum or 0.99:g}")
    for task in data.tasks:
        key = "mae" if task.kind == "regression" else "accuracy"
        line = (f"  {task.name} {key}: baseline {trivial_baseline(task, data.train, data.test):.4f}"
                f", as saved {saved[task.name][key]:.4f}")
        if reestimated:
            line += f", statistics re-estimated {reestimated[task.name][key]:.4f}"
        print(line + f" ({saved[task.name].get('examples', len(data.test))} test images)")


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        report(folder)
