"""DSelect-k: Hazimeh et al. 2021, "DSelect-k: Differentiable Selection in the Mixture of
Experts with Applications to Multi-Task Learning" (NeurIPS).

As MMoE (mmoe.py), K experts, each a copy of the trunk, are shared by the tasks, and each
task's head reads a mixture of their features; but each task's gate selects at most k of
them, differentiably. Its gate holds k selectors: selector j reads m = ceil(log2 K) smooth
steps of a linear function of the (flattened) images, S(z) = 0 below -gamma/2, 1 above
gamma/2, -2 z^3 / gamma^3 + 3 z / (2 gamma) + 1/2 between, and weighs expert e by
prod_b (S(z_jb) if bit b of e's binary code is 1 else 1 - S(z_jb)); as the steps reach 0
or 1 a selector picks one expert. The k selectors are mixed by a softmax linear in the
images too. Initialisation as LibMTL's `DSelect_k` (after the paper's TensorFlow code):
the selectors' logits uniform in (-gamma/100, gamma/100), the mixing logits in
(-0.05, 0.05), so every expert starts with about the same weight.

The paper's optional entropy regulariser (pushing the smooth steps to 0 or 1) and its
penalty on codes beyond K are model losses, which the train step does not add: they are
left out. With K not a power of two, a code e beyond K selects expert e - K instead (the
paper's penalty keeps selectors away from such codes), so that every selector's weights,
and each task's expert weights, sum to 1.
"""

import math

import keras
from keras import layers
from keras import ops
import numpy as np

from mtl_keras import registry
from mtl_keras.models.architectures import base
from mtl_keras.models.architectures import mmoe


@base.register("dselect_k")
class DSelectK(base.Architecture):
    """K trunks as experts, a differentiable gate per task that selects k of them."""

    # LibMTL's defaults: num_nonzeros 2, kgamma 1; experts as MMoE's.
    HYPERPARAMETERS = {
        "experts": registry.Option(8, "experts, each a copy of the trunk", minimum=1, maximum=64,
                                   whole=True),
        "selected": registry.Option(2, "k, the experts each task's gate selects (its "
                                    "selectors; LibMTL's num_nonzeros)", minimum=1, maximum=64,
                                    whole=True),
        "gamma": registry.Option(1.0, "the width of the smooth step (LibMTL's kgamma)",
                                 minimum=1e-3, maximum=100),
    }

    def build(self, tasks, trunk, images):
        experts = [trunk(images) for _ in range(self.options["experts"])]
        flat = layers.Flatten()(images)
        features = {}
        for task in tasks:
            gate = SelectorGate(len(experts), self.options["selected"], self.options["gamma"],
                                dtype="float32")(flat)
            features[task.name] = mmoe.ExpertMixture()([gate, *experts])
        return base.Built(features)


@keras.saving.register_keras_serializable(package="mtl_keras")
class SelectorGate(layers.Layer):
    """A DSelect-k gate: (batch, features) → expert weights (batch, K) that sum to 1.

    Args:
      experts: K.
      selected: k, the number of selectors.
      gamma: the smooth step's width.
    """

    def __init__(self, experts, selected=2, gamma=1.0, **kwargs):
        super().__init__(**kwargs)
        self.experts = int(experts)
        self.selected = int(selected)
        self.gamma = float(gamma)
        self.bits = max(1, math.ceil(math.log2(self.experts)))

    def build(self, input_shape):
        features = input_shape[-1]
        limit = self.gamma / 100
        self.step_kernel = self.add_weight(
            shape=(features, self.selected * self.bits), name="step_kernel",
            initializer=keras.initializers.RandomUniform(-limit, limit))
        self.step_bias = self.add_weight(
            shape=(self.selected * self.bits,), name="step_bias",
            initializer=keras.initializers.RandomUniform(-limit, limit))
        self.mixing_kernel = self.add_weight(
            shape=(features, self.selected), name="mixing_kernel",
            initializer=keras.initializers.RandomUniform(-0.05, 0.05))
        self.mixing_bias = self.add_weight(
            shape=(self.selected,), name="mixing_bias",
            initializer=keras.initializers.RandomUniform(-0.05, 0.05))

    def call(self, inputs):
        logits = ops.matmul(inputs, self.step_kernel) + self.step_bias
        steps = smooth_step(ops.reshape(logits, (-1, self.selected, 1, self.bits)), self.gamma)
        codes = ops.convert_to_tensor(binary_codes(2 ** self.bits), dtype=steps.dtype)
        # (batch, k, 2^m): the product over the bits of S or 1 - S, as each code says; they
        # sum to 1 over the codes. Then (batch, k, K): the codes beyond K folded back.
        selectors = ops.prod(codes * steps + (1.0 - codes) * (1.0 - steps), axis=-1)
        folding = np.eye(self.experts, dtype=np.float32)[np.arange(2 ** self.bits) % self.experts]
        selectors = ops.matmul(selectors, ops.convert_to_tensor(folding, dtype=steps.dtype))
        mixing = ops.softmax(ops.matmul(inputs, self.mixing_kernel) + self.mixing_bias, axis=-1)
        return ops.einsum("bj,bje->be", mixing, selectors)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.experts)

    def get_config(self):
        return {**super().get_config(), "experts": self.experts, "selected": self.selected,
                "gamma": self.gamma}


def smooth_step(values, gamma):
    """The cubic smooth step of width `gamma` (see the module docstring)."""
    cubic = -2.0 / gamma ** 3 * values ** 3 + 3.0 / (2.0 * gamma) * values + 0.5
    return ops.where(values <= -gamma / 2, 0.0, ops.where(values >= gamma / 2, 1.0, cubic))


def binary_codes(experts):
    """(K, m) float32: row e is e's binary code, most significant bit first (as LibMTL)."""
    bits = max(1, math.ceil(math.log2(experts)))
    return np.array([[int(bit) for bit in np.binary_repr(expert, width=bits)]
                     for expert in range(experts)], np.float32)
