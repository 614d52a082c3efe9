"""Registries of per-head losses and metrics, by the names a `Task` uses."""

import keras

from mtl_keras import registry

LOSSES = registry.Registry("loss")
METRICS = registry.Registry("metric")

LOSSES.register("sparse_categorical_crossentropy")(
    lambda: keras.losses.SparseCategoricalCrossentropy())
METRICS.register("accuracy")(lambda: keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
METRICS.register("top5_accuracy")(
    lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"))
