"""Builds the multi-task model: uint8 images → rescale · normalize → trunk → one head per task."""

import keras
from keras import layers

from mtl_keras.models import resnet  # noqa: F401  (registers the ResNet trunks)
from mtl_keras.models import trunks


def build_model(tasks, trunk, image_shape, channel_mean, channel_std):
    """Returns a functional `keras.Model` whose outputs are a dict keyed by task name.

    Args:
      tasks: the heads, a sequence of `tasks.Task`; each becomes a softmax Dense layer
        named after the task.
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
    # Heads compute in float32 even under mixed precision: the softmax and the loss
    # need the range.
    outputs = {task.name: layers.Dense(task.num_classes, activation="softmax", dtype="float32",
                                       name=task.name)(features)
               for task in tasks}
    return keras.Model(images, outputs, name=f"{trunk}_" + "_".join(t.name for t in tasks))
