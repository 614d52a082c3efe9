"""Protocols: how a run trains its heads, one registered object per protocol.

- joint: every head on every step (the default).
- single_task: one named head (--task) alone, on the images that have its label.
- task_sampling: every step one task's batch, the task drawn by --sampling.
- standard: a task family's tasks answered by one classifier over all their classes.

A protocol turns the loaded data into the data the model trains on (`training_data`),
may replace the training pipeline (`training_dataset`), and may add per-task figures to
metrics.json (`task_metrics`). Adding one is a file here with `@PROTOCOLS.register`.
"""

from mtl_keras.protocols import base
from mtl_keras.protocols import single_task  # noqa: F401  (registers single_task)
from mtl_keras.protocols import standard  # noqa: F401  (registers standard)
from mtl_keras.protocols import task_sampling  # noqa: F401  (registers task_sampling)

PROTOCOLS = base.PROTOCOLS


def get(name):
    """The registered protocol `name` (UserError naming the others when unknown)."""
    return PROTOCOLS.get(name)
