"""Builds the multi-task model: uint8 images → standardize → architecture → one head per task.

The architecture (`models/architectures/`, default `hps`: the trunk read by every head)
decides which layers the tasks share between the images and the heads.

The model also carries its heads' descriptions (names, kinds, class names) in a
`HeadDescriptions` layer, so that a saved `model.keras` answers with class names wherever
it is copied.
"""

import keras
from keras import layers
from keras import ops

from mtl_keras.models import architectures
from mtl_keras.models import batch_norm
from mtl_keras.heads import descriptions as head_descriptions
from mtl_keras.models import resnet  # noqa: F401  (registers the ResNet trunks)
from mtl_keras.models import trunks
from mtl_keras.step import model as model_lib


def build_model(tasks, trunk="resnet20", image_shape=(32, 32, 3), channel_mean=None,
                channel_std=None, batch_norm_momentum=0.99, architecture="hps",
                architecture_options=None):
    """Returns a `MultiTaskModel` (Functional) whose outputs are a dict keyed by task name.

    Its input is a batch of uint8 images; the trunk reads them standardized per channel,
    (pixel / 255 - mean) / std. Compiled without `loss` or `metrics`, each head gets its
    kind's default loss and metrics.

    Args:
      tasks: the heads, a sequence of `mtl_keras.Task`; each becomes a Dense layer named
        after the task, with its kind's activation.
      trunk: a registered trunk name (see `mtl_keras.TRUNKS`), a `trunks.Trunk`, or any
        Keras model or layer mapping float images to features (e.g.
        `keras.applications.MobileNetV3Small(include_top=False, weights=None)` or your
        own, with its weights): spatial features are average-pooled. Architectures that
        copy the trunk (mmoe, cgc) copy its configuration with new weights.
      image_shape: H×W×C of the uint8 input images.
      channel_mean, channel_std: per-channel statistics of the training images in [0, 1]
        (default 0 and 1: the trunk reads pixel / 255).
      batch_norm_momentum: momentum of the trunk's batch-normalization moving averages
        (a run's comes from `size_rule`).
      architecture: a registered architecture name (see `mtl_keras.ARCHITECTURES`), or an
        `Architecture` made with its options.
      architecture_options: its hyperparameters, {name: value} (default: the paper's).

    Raises:
      ValueError: `batch_norm_momentum` is not between 0 and 1 (0, an unresolved "auto",
        included).
      UserError: an unknown trunk or architecture, options it lacks, or a trunk without
        the stages the architecture needs.
    """
    if not 0 < batch_norm_momentum < 1:
        raise ValueError(f"batch_norm_momentum={batch_norm_momentum}: give a momentum between "
                         f"0 and 1 (resolve the config with size_rule.resolve first).")
    trunk_object = trunks.resolve(trunk)
    channels = image_shape[-1]
    channel_mean = [0.0] * channels if channel_mean is None else channel_mean
    channel_std = [1.0] * channels if channel_std is None else channel_std
    shape = (architecture if isinstance(architecture, architectures.base.Architecture)
             else architectures.make(architecture, architecture_options))
    shape.check(trunk_object)
    images = keras.Input(shape=tuple(image_shape), dtype="uint8", name="image")
    descriptions = [head_descriptions.describe(task) for task in tasks]
    described = head_descriptions.HeadDescriptions(descriptions, name=DESCRIPTIONS)(images)
    built = shape.build(tasks, trunk_object,
                        Standardize(channel_mean, channel_std, name="standardize")(described))
    outputs = {task.name: _head(task, built.features[task.name]) for task in tasks}
    prefix = "" if shape.name == "hps" else f"{shape.name}_"  # hps: the name of old
    name = f"{prefix}{trunk_object.name}_" + "_".join(task.name for task in tasks)
    model = model_lib.MultiTaskModel(images, outputs, name=name)
    if built.representation:  # what every head reads: --rep_grad's target
        model.set_representation(built.representation)
    if built.task_layers:
        model.set_task_layers(built.task_layers)
    batch_norm.set_momentum(model, batch_norm_momentum)
    return model


DESCRIPTIONS = head_descriptions.DESCRIPTIONS


@keras.saving.register_keras_serializable(package="mtl_keras")
class Standardize(layers.Layer):
    """uint8 pixels → (pixel / 255 − mean) / std per channel, as one multiply-add.

    One fused layer instead of Keras' Rescaling + Normalization: those cost a division
    and two more full passes over the images, about a tenth of the simple CNN's op time
    on a CPU (benchmarks/throughput.py --profile_dir=DIR).
    """

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(value) for value in mean]
        self.std = [float(value) for value in std]

    def call(self, images):
        scale = [1.0 / (255.0 * s) for s in self.std]
        offset = [-m / s for m, s in zip(self.mean, self.std)]
        images = ops.cast(images, self.compute_dtype)
        return images * ops.cast(scale, self.compute_dtype) + ops.cast(offset, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


def _head(task, features):
    """The task's output layer, named after the task (its kind's, see `heads`)."""
    return task.head_kind.output(task, features)
