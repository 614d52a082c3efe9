"""Batch normalization as one fused TensorFlow op, for the convolutional trunks.

Keras 3's `BatchNormalization` computes the batch moments, the normalization and (under
mixed precision) float32 casts as separate element-wise ops: on a CPU they took over a
third of the quarter-width resnet9's op time (benchmarks/throughput.py --keras_batch_norm
--profile_dir=DIR: Mul, Sum, Cast, Mean, SquaredDifference, Tile). `FusedBatchNormV3` does the same work in
one pass forward and one backward (oneDNN on CPUs, cuDNN on GPUs). Same defaults and
weights as Keras' layer; inputs are NHWC feature maps.
"""

import keras
from keras import layers
import tensorflow as tf


@keras.saving.register_keras_serializable(package="mtl_keras")
class FusedBatchNormalization(layers.Layer):
    """Batch normalization over the last axis of NHWC feature maps, as one fused op.

    Training normalizes with the batch's moments and moves `moving_mean` and
    `moving_variance` towards them by `1 - momentum` per step (the variance's update uses
    the unbiased batch variance); inference normalizes with the moving statistics.

    Args:
      momentum: weight of the old value in the moving averages (Keras' default 0.99).
      epsilon: added to the variance before the square root (Keras' default 1e-3).
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"FusedBatchNormalization takes NHWC feature maps with a known number "
                             f"of channels; got shape {input_shape}.")
        channels = (input_shape[-1],)
        # The op wants float32 parameters whatever the compute dtype: no autocasting.
        self.gamma = self.add_weight(shape=channels, initializer="ones", name="gamma",
                                     autocast=False)
        self.beta = self.add_weight(shape=channels, initializer="zeros", name="beta",
                                    autocast=False)
        self.moving_mean = self.add_weight(shape=channels, initializer="zeros", name="moving_mean",
                                           trainable=False, autocast=False)
        self.moving_variance = self.add_weight(shape=channels, initializer="ones",
                                               name="moving_variance", trainable=False,
                                               autocast=False)

    def call(self, inputs, training=None):
        def float32(variable):
            return tf.cast(variable, tf.float32)

        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=float32(self.gamma), offset=float32(self.beta),
            mean=float32(self.moving_mean), variance=float32(self.moving_variance),
            epsilon=self.epsilon, exponential_avg_factor=1.0 - self.momentum if training else 1.0,
            data_format="NHWC", is_training=bool(training))
        if training:  # with exponential_avg_factor < 1, the op returns the updated averages
            self.moving_mean.assign(tf.cast(mean, self.moving_mean.dtype))
            self.moving_variance.assign(tf.cast(variance, self.moving_variance.dtype))
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


def set_momentum(model, momentum):
    """Sets the moving-average momentum of every `FusedBatchNormalization` layer of `model`.

    Called before the model is first traced: `call` reads the momentum when it is traced.
    The trunks build their layers with Keras' default (0.99); the run's own value (see
    `mtl_keras.size_rule`) is set here, in one place, rather than passed through every trunk.
    """
    for layer in model.layers:
        if isinstance(layer, FusedBatchNormalization):
            layer.momentum = float(momentum)
        elif hasattr(layer, "layers"):  # a nested model
            set_momentum(layer, momentum)
