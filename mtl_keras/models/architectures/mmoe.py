"""Multi-gate mixture of experts: Ma et al. 2018, "Modeling task relationships in multi-task
learning with multi-gate mixture-of-experts" (KDD).

K experts, each a copy of the trunk with its own weights, all read the images; each task
has its own gate, a softmax over the experts linear in the (flattened) images, and its head
reads the experts' features weighed by its gate: f_t(x) = sum_k g_t(x)_k e_k(x). The
experts are shared by every task, each gate is its task's. As in LibMTL, an expert is the
whole trunk (the paper's experts replace the shared bottom); a step costs about K trunks.
"""

import keras
from keras import layers
from keras import ops

from mtl_keras import registry
from mtl_keras.models.architectures import base


@base.register("mmoe")
class MultiGateMixtureOfExperts(base.Architecture):
    """K trunks as experts, one softmax gate per task."""

    # 8 experts, as in the paper's synthetic-data experiments (single layers there).
    HYPERPARAMETERS = {"experts": registry.Option(8, "experts, each a copy of the trunk",
                                                  minimum=1, maximum=64, whole=True)}

    def build(self, tasks, trunk, images):
        experts = [trunk(images) for _ in range(self.options["experts"])]
        return base.Built({task.name: ExpertMixture()([base.gate(images, len(experts)), *experts])
                           for task in tasks})


@keras.saving.register_keras_serializable(package="mtl_keras")
class ExpertMixture(layers.Layer):
    """sum_k w_k e_k: experts' outputs (feature maps or flat features of one shape)
    weighed by a gate's weights. Inputs: [weights (batch, K), e_1, ..., e_K]."""

    def call(self, inputs):
        weights, *experts = inputs
        stacked = ops.stack(experts, axis=1)  # (batch, K, ...)
        weights = ops.cast(weights, stacked.dtype)
        for _ in range(len(stacked.shape) - 2):
            weights = ops.expand_dims(weights, -1)
        return ops.sum(stacked * weights, axis=1)

    def compute_output_shape(self, input_shapes):
        return input_shapes[1]
