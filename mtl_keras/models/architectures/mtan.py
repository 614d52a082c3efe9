"""Multi-task attention network: Liu et al. 2019, "End-to-end multi-task learning with
attention" (CVPR).

One shared trunk; each task has an attention module at every stage that learns a soft mask
over the stage's output p_j and passes on the masked features a_j * p_j:
  a_1 = attention_t1(p_1),  a_j = attention_tj([p_j, f_j(masked_{j-1})]),
where attention is 1×1 conv, batch norm, ReLU, 1×1 conv, batch norm, sigmoid (task's own)
and f_j a 3×3 conv, batch norm, ReLU (shared by the tasks, as in the paper's code) that
brings the task's previous masked features to stage j's channels and resolution. The head
reads the trunk's pooling of the last masked features. The paper computes each mask from
the features before the stage's last block; here from the stage's output (every trunk
then works as it is). The stages' outputs are the shared representation.
"""

from keras import layers

from mtl_keras.models import trunks
from mtl_keras.models.architectures import base


@base.register("mtan")
class MultiTaskAttentionNetwork(base.Architecture):
    """A shared trunk with per-task attention over each of its stages."""

    minimum_stages = 2
    shares_representation = True

    def stage_reason(self):
        return "its attention modules sit at every stage"

    def build(self, tasks, trunk, images):
        shared = trunk.run_stages(images)
        # f_j, one per stage after the first, shared by the tasks.
        adapters = [_Adapter(previous, current) for previous, current in zip(shared, shared[1:])]
        features = {}
        for task in tasks:
            masked = layers.Multiply()([_attention(shared[0]), shared[0]])
            for stage_output, adapter in zip(shared[1:], adapters):
                mask = _attention(layers.Concatenate()([stage_output, adapter(masked)]),
                                  stage_output.shape[-1])
                masked = layers.Multiply()([mask, stage_output])
            features[task.name] = trunk.pool(masked)
        return base.Built(features, representation=tuple(shared))


def _attention(x, channels=None):
    """A task's attention mask over a stage's `channels` (default: x's own)."""
    channels = channels or x.shape[-1]
    x = layers.Conv2D(channels, 1, use_bias=False, kernel_initializer="he_normal")(x)
    x = layers.ReLU()(trunks.batch_norm_layer()(x))
    x = layers.Conv2D(channels, 1, use_bias=False)(x)
    return layers.Activation("sigmoid")(trunks.batch_norm_layer()(x))


class _Adapter:
    """f_j: one set of layers (3×3 conv, batch norm, ReLU) from a stage's output shape to
    the next stage's, applied to every task's masked features."""

    def __init__(self, previous, current):
        stride = -(-previous.shape[1] // current.shape[1])  # the stage's downsampling
        self.convolution = layers.Conv2D(current.shape[-1], 3, strides=stride, padding="same",
                                         use_bias=False, kernel_initializer="he_normal")
        self.normalization = trunks.batch_norm_layer()
        self.activation = layers.ReLU()

    def __call__(self, x):
        return self.activation(self.normalization(self.convolution(x)))
