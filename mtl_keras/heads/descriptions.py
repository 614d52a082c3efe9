"""The heads' descriptions inside a model: a layer that computes nothing and keeps them.

A model built by `build_model` carries its heads' names, kinds and class names here, so
that a saved model.keras answers with names wherever it is copied, and compiles with
each head's default loss and metrics.
"""

import dataclasses

import keras
from keras import layers

from mtl_keras import tasks as tasks_lib

# The layer's name; tasks.MODEL_LAYER_NAMES keeps heads from taking it.
DESCRIPTIONS = "head_descriptions"


def describe(task):
    """`task` as the JSON-ready dict a `HeadDescriptions` layer keeps (every field of the Task)."""
    return {field: list(value) if isinstance(value, tuple) else value
            for field, value in dataclasses.asdict(task).items()}


@keras.saving.register_keras_serializable(package="mtl_keras")
class HeadDescriptions(layers.Layer):
    """Passes the images through unchanged; its configuration holds the heads' descriptions.

    A layer of the model rather than a file beside it or inside the .keras archive: its
    configuration is saved with every `model.save` (checkpoints included) and comes back
    from `keras.saving.load_model`, so the names travel with any copy of the model and
    with any model saved again after loading. It has no weights and computes nothing.

    Attributes:
      heads: one dict per head, in output order, as `describe` makes them.
    """

    def __init__(self, heads, **kwargs):
        super().__init__(**kwargs)
        self.heads = [dict(head) for head in heads]

    def call(self, images):
        return images

    def compute_output_spec(self, images):
        # The images stay uint8; the default spec would claim the layer's float dtype.
        return keras.KerasTensor(images.shape, dtype=images.dtype)

    def get_config(self):
        return {**super().get_config(), "heads": self.heads}




def tasks_of(model):
    """The `Task`s a model's descriptions hold, in output order, or None without them."""
    try:
        described = model.get_layer(DESCRIPTIONS).heads
    except ValueError:
        return None
    # Fields a later version may add are left out, so that its models load here too.
    fields = {field.name for field in dataclasses.fields(tasks_lib.Task)}
    return tuple(tasks_lib.Task(**{key: tuple(value) if isinstance(value, list) else value
                                   for key, value in head.items() if key in fields})
                 for head in described)
