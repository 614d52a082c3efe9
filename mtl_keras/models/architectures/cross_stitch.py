"""Cross-stitch networks: Misra et al. 2016, "Cross-stitch networks for multi-task learning"
(CVPR).

One column per task, each a copy of the trunk with its own weights; between two stages a
cross-stitch unit replaces each column's features by a learned linear mixture of every
column's: x'_t = sum_s alpha_ts x_s (one T×T matrix per unit, scalars as in the paper). Each
task's head reads its own column's pooled features. A task's column is its own (declared
so: through the mixing every column reaches every head); the mixing weights are shared.

`self_weight` initialises alpha_tt (the paper's best initialisation for two tasks: 0.9 on
the own column, 0.1 on the other); the rest of each row is spread evenly over the other
columns, so that rows sum to 1. At self_weight=1 the columns are independent networks.
The paper's larger learning rate for alpha is not applied; weight decay spares alpha
(training/optimizers.py).
"""

import keras
from keras import layers
from keras import ops
import numpy as np

from mtl_keras import registry
from mtl_keras.models.architectures import base


@base.register("cross_stitch")
class CrossStitchNetwork(base.Architecture):
    """One trunk per task, mixed linearly after every stage but the last."""

    HYPERPARAMETERS = {"self_weight": registry.Option(
        0.9, "initial weight of a column's own features in its mixture", minimum=0,
        maximum=1, whole=False)}
    minimum_stages = 2

    def stage_reason(self):
        return "its units mix the columns between stages"

    def build(self, tasks, trunk, images):
        names = [task.name for task in tasks]
        columns = [images] * len(names)
        task_layers = {name: [] for name in names}
        for index, stage in enumerate(trunk.stages):
            outputs = [stage(column) for column in columns]
            for name, column, output in zip(names, columns, outputs):
                task_layers[name] += base.layers_between([column], [output])
            if index < len(trunk.stages) - 1:
                outputs = CrossStitch(len(names), self.options["self_weight"])(outputs)
            columns = outputs
        features = {name: trunk.pool(column) for name, column in zip(names, columns)}
        return base.Built(features, task_layers=task_layers)


@keras.saving.register_keras_serializable(package="mtl_keras")
class CrossStitch(layers.Layer):
    """A cross-stitch unit over T inputs of one shape: output t = sum_s mixing[t, s] input_s.

    Args:
      columns: T, the number of inputs (and outputs).
      self_weight: the initial mixing[t, t]; each row's rest is spread evenly.
    """

    def __init__(self, columns, self_weight=0.9, **kwargs):
        super().__init__(**kwargs)
        self.columns = int(columns)
        self.self_weight = float(self_weight)

    def build(self, input_shapes):
        self.mixing = self.add_weight(shape=(self.columns, self.columns), name="mixing",
                                      initializer=self._initial_mixing)

    def _initial_mixing(self, shape, dtype=None):
        if self.columns == 1:
            return ops.ones(shape, dtype=dtype)
        other = (1.0 - self.self_weight) / (self.columns - 1)
        matrix = np.full(shape, other) + (self.self_weight - other) * np.eye(self.columns)
        return ops.convert_to_tensor(matrix, dtype=dtype)

    def call(self, inputs):
        stacked = ops.stack(inputs, axis=0)  # (T, batch, ...)
        mixed = ops.tensordot(ops.cast(self.mixing, stacked.dtype), stacked, axes=1)
        return list(ops.unstack(mixed, num=self.columns, axis=0))

    def compute_output_shape(self, input_shapes):
        return [tuple(shape) for shape in input_shapes]

    def get_config(self):
        return {**super().get_config(), "columns": self.columns, "self_weight": self.self_weight}
