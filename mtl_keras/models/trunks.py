"""The trunk registry and the small trunks.

A trunk turns float images (already standardized) into a flat feature tensor for the heads:
`features = trunk(images)`. It is built from `stages`, functions `x = stage(x)` that each
make new layers when called (so an architecture can build a trunk several times, each
copy with its own weights, or act between its stages), and `pool`, which turns the last
stage's output into the flat features. Calling a trunk calls its stages and its pool in
order, which builds exactly the layers the trunk function of one piece did before.

The ResNets have one stage per group of blocks at one resolution (resnet9 one per pooling);
the small trunks are one stage, which stage-wise architectures (cross-stitch, MTAN) refuse.
"""

import dataclasses

import keras
from keras import layers

from mtl_keras import registry
from mtl_keras.models import batch_norm

TRUNKS = registry.Registry("trunk", docs="experiments/README.md#the-data", flag="--trunk")


@dataclasses.dataclass(frozen=True)
class Trunk:
    """A registered trunk: its stages in order and the pooling after the last one.

    Attributes:
      name: the registered name.
      stages: functions `x = stage(x)`, each making new layers at every call.
      pool: `features = pool(x)`, from the last stage's output to flat features.
    """

    name: str
    stages: tuple
    pool: object

    def __call__(self, images):
        """Builds the whole trunk on `images`; returns its flat features."""
        return self.pool(self.run_stages(images)[-1])

    def run_stages(self, images):
        """Builds the stages on `images`; returns every stage's output, in order."""
        outputs, x = [], images
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def register(name, stages, pool=lambda x: x, description=""):
    """Registers the trunk `name` made of `stages` then `pool`; returns the `Trunk`."""
    trunk = Trunk(name, tuple(stages), pool)
    staged = f"{len(stages)} stages" if len(stages) > 1 else "one stage"
    TRUNKS.register(name, description=f"{description}, {staged}" if description else staged)(trunk)
    return trunk


def resolve(trunk):
    """The `Trunk` that `trunk` names: a registered name, a `Trunk`, or a Keras layer or
    model (see `from_keras`).

    Raises:
      UserError: an unknown name.
    """
    if isinstance(trunk, Trunk):
        return trunk
    if isinstance(trunk, keras.layers.Layer):
        return from_keras(trunk)
    return TRUNKS.get(trunk)


def from_keras(layer):
    """A one-stage `Trunk` from a Keras layer or model of the user's.

    The first call uses `layer` itself (its weights, e.g. loaded from the user's file);
    later calls (architectures that build the trunk once per expert) use copies of its
    configuration with new weights. Features of rank 4 are average-pooled, others
    flattened.
    """
    calls = []

    def stage(images):
        copy = layer if not calls else _copy(layer, f"{layer.name}_{len(calls)}")
        calls.append(copy)
        return copy(images)

    def pool(features):
        if len(features.shape) == 4:
            return layers.GlobalAveragePooling2D()(features)
        return layers.Flatten()(features) if len(features.shape) > 2 else features

    return Trunk(layer.name, (stage,), pool)


def _copy(layer, name):
    """A new layer (or model) of `layer`'s configuration named `name`, with new weights
    (a model's layer names must be unique)."""
    if isinstance(layer, keras.Model):
        copy = keras.models.clone_model(layer)
        copy.name = name
        return copy
    return layer.__class__.from_config({**layer.get_config(), "name": name})


def _simple_cnn(images):
    """The Keras CIFAR-100 two-head notebook's trunk: two 3×3 convs, a pool, two dense layers."""
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(images)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    return layers.Dense(64, activation="relu")(x)


def _lenet(images):
    """LeNet as in the Wolfram neural-net repository: conv 20 5×5, pool, conv 50 5×5, pool, dense 500."""
    x = layers.Conv2D(20, 5, activation="relu")(images)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(50, 5, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    return layers.Dense(500, activation="relu")(x)


simple_cnn = register("simple_cnn", [_simple_cnn], description="the Keras two-head notebook's CNN")
lenet = register("lenet", [_lenet], description="LeNet")


def conv_bn_relu(x, filters, strides=1, relu=True):
    """A 3×3 convolution without bias, batch normalization, and optionally ReLU."""
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal")(x)
    x = batch_norm_layer()(x)
    return layers.ReLU()(x) if relu else x


def batch_norm_layer():
    """A new batch normalization layer for a trunk: the fused one (see `batch_norm`)."""
    return batch_norm.FusedBatchNormalization()
