"""The trunk registry and the small trunks.

A trunk is a function `features = trunk(images)` on a float Keras tensor (already
rescaled and normalized) that returns a flat feature tensor for the heads.
"""

from keras import layers

from mtl_keras import registry
from mtl_keras.models import batch_norm

TRUNKS = registry.Registry("trunk")


@TRUNKS.register("simple_cnn")
def simple_cnn(images):
    """The Keras CIFAR-100 two-head notebook's trunk: two 3×3 convs, a pool, two dense layers."""
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(images)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    return layers.Dense(64, activation="relu")(x)


@TRUNKS.register("lenet")
def lenet(images):
    """LeNet as in the Wolfram neural-net repository: conv 20 5×5, pool, conv 50 5×5, pool, dense 500."""
    x = layers.Conv2D(20, 5, activation="relu")(images)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(50, 5, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    return layers.Dense(500, activation="relu")(x)


def conv_bn_relu(x, filters, strides=1, relu=True):
    """A 3×3 convolution without bias, batch normalization, and optionally ReLU."""
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal")(x)
    x = batch_norm_layer()(x)
    return layers.ReLU()(x) if relu else x


def batch_norm_layer():
    """A new batch normalization layer for a trunk: the fused one (see `batch_norm`)."""
    return batch_norm.FusedBatchNormalization()

