"""CIFAR ResNets: He et al. 2016 (resnet20, resnet56) and the common CIFAR ResNet-18.

resnet20/56: a 16-filter stem, three stages of n basic blocks (16, 32, 64 filters;
n = 3 or 9), identity shortcuts that subsample and zero-pad channels where the shape
changes (the paper's option A), global average pooling: 0.27 M and 0.85 M parameters
with a 10-class head.
resnet18: a 64-filter 3×3 stem without max-pooling (32×32 inputs are small), four
stages of two basic blocks (64 to 512 filters), 1×1 projection shortcuts: about 11 M.
resnet9: the fast "ResNet-9" layout of the DAWNBench CIFAR entries (stem; conv + pool +
residual pair; conv + pool; conv + pool + residual pair; global max-pool) at a quarter of
their width (16 to 128 filters): about 0.41 M parameters, sized for 2-core CPUs.
Its pools round odd sizes up (padding "same"): on 28×28 images the last pool turns the
7×7 map into 4×4 instead of dropping its last row and column (no change on 32×32).
"""

import functools

import keras
from keras import layers
from keras import ops

from mtl_keras.models import trunks


@keras.saving.register_keras_serializable(package="mtl_keras")
class ZeroPadShortcut(layers.Layer):
    """Option-A shortcut: subsample by `stride` and zero-pad channels up to `filters`."""

    def __init__(self, filters, stride, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.stride = stride

    def call(self, inputs):
        x = inputs[:, ::self.stride, ::self.stride, :]
        extra = self.filters - inputs.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        height, width = (None if size is None else -(-size // self.stride) for size in (height, width))
        return (batch, height, width, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


def _basic_block(x, filters, stride, projection):
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        if projection:
            shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                     kernel_initializer="he_normal")(x)
            shortcut = trunks.batch_norm_layer()(shortcut)
        else:
            shortcut = ZeroPadShortcut(filters, stride)(x)
    x = trunks.conv_bn_relu(x, filters, strides=stride)
    x = trunks.conv_bn_relu(x, filters, relu=False)
    return layers.ReLU()(layers.Add()([x, shortcut]))


def _resnet_stage(x, filters, blocks, stride, projection, stem_filters=0):
    """One stage: `blocks` basic blocks of `filters` (the first with `stride`), after the
    stem when `stem_filters` is given."""
    if stem_filters:
        x = trunks.conv_bn_relu(x, stem_filters)
    for block in range(blocks):
        x = _basic_block(x, filters, stride if block == 0 else 1, projection)
    return x


def _register_resnet(name, stem_filters, stage_filters, blocks_per_stage, projection):
    """Registers a CIFAR ResNet: the stem, then one stage per filter count (each after the
    first halves the resolution), then global average pooling."""
    stages = [functools.partial(_resnet_stage, filters=filters, blocks=blocks_per_stage,
                                stride=1 if index == 0 else 2, projection=projection,
                                stem_filters=stem_filters if index == 0 else 0)
              for index, filters in enumerate(stage_filters)]
    return trunks.register(name, stages, lambda x: layers.GlobalAveragePooling2D()(x),
                           description=f"CIFAR ResNet, {blocks_per_stage * len(stage_filters)} "
                                       f"residual blocks")


# He et al.'s CIFAR ResNet-20 and ResNet-56 (3 and 9 blocks per stage), and the usual CIFAR
# ResNet-18 (2 blocks per stage, 64 to 512 filters, projection shortcuts).
resnet20 = _register_resnet("resnet20", 16, (16, 32, 64), 3, projection=False)
resnet56 = _register_resnet("resnet56", 16, (16, 32, 64), 9, projection=False)
resnet18 = _register_resnet("resnet18", 64, (64, 128, 256, 512), 2, projection=True)


def _residual_pair(x):
    shortcut = x
    x = trunks.conv_bn_relu(x, x.shape[-1])
    x = trunks.conv_bn_relu(x, x.shape[-1])
    return layers.Add()([x, shortcut])


def _resnet9_first(x):
    x = trunks.conv_bn_relu(x, 16)
    x = layers.MaxPooling2D(2, padding="same")(trunks.conv_bn_relu(x, 32))
    return _residual_pair(x)


def _resnet9_second(x):
    return layers.MaxPooling2D(2, padding="same")(trunks.conv_bn_relu(x, 64))


def _resnet9_third(x):
    x = layers.MaxPooling2D(2, padding="same")(trunks.conv_bn_relu(x, 128))
    return _residual_pair(x)


# A quarter-width ResNet-9 (16, 32, 64, 128 filters), sized for CPUs: one stage per pooling.
resnet9 = trunks.register("resnet9", [_resnet9_first, _resnet9_second, _resnet9_third],
                          lambda x: layers.GlobalMaxPooling2D()(x),
                          description="a quarter-width ResNet-9, sized for CPUs")
