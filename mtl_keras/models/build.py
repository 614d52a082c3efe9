"""Builds the multi-task model: uint8 images → rescale · normalize → trunk → one head per task."""

import keras
from keras import layers

from mtl_keras.models import resnet  # noqa: F401  (registers the ResNet trunks)
from mtl_keras.models import trunks


def build_model(tasks, trunk, image_shape, channel_mean, channel_std):
    """Returns a functional `keras.Model` whose outputs are a dict keyed by task name.

    Args:
      tasks: the heads, a sequence of `tasks.Task`; each becomes a Dense layer named after
        the task, with its kind's activation.
      trunk: a registered trunk name (see `trunks.TRUNKS`).
      image_shape: H×W×C of the uint8 input images.
      channel_mean, channel_std: per-channel statistics of the training images in [0, 1].
    """
    trunk_fn = trunks.TRUNKS.get(trunk)
    images = keras.Input(shape=tuple(image_shape), dtype="uint8", name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(images)
    x = layers.Normalization(mean=list(channel_mean), variance=[s * s for s in channel_std],
                             name="normalize")(x)
    features = trunk_fn(x)
    outputs = {task.name: _head(task, features) for task in tasks}
    return keras.Model(images, outputs, name=f"{trunk}_" + "_".join(t.name for t in tasks))


def _head(task, features):
    """The task's output layer, named after the task.

    Heads compute in float32 even under mixed precision: the activation and the loss
    need the range. A regression head ends in a fixed rescaling by the training targets'
    mean and standard deviation, so that its Dense layer works on standardised values
    while the model (and the saved model) answers in the original units.
    """
    if task.kind != "regression":
        return layers.Dense(task.units, activation=task.activation, dtype="float32",
                            name=task.name)(features)
    standardised = layers.Dense(task.units, dtype="float32", name=f"{task.name}_standardised")(
        features)
    return layers.Rescaling(task.target_std, offset=task.target_mean, dtype="float32",
                            name=task.name)(standardised)
