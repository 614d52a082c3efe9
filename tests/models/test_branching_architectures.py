"""DSelect-k's gates and learning-to-branch's choices against values computed here in numpy
(the training, saving and reloading of both: test_architectures.py)."""

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.models.architectures import dselect_k
from mtl_keras.models.architectures import ltb


def numpy_dselect_gate(inputs, step_kernel, step_bias, mixing_kernel, mixing_bias, experts,
                       selected, gamma):
    """The paper's gate, written out: smooth steps, binary codes, k selectors, softmax."""
    bits = int(np.ceil(np.log2(experts)))
    logits = (inputs @ step_kernel + step_bias).reshape(len(inputs), selected, bits)
    steps = np.clip(-2 / gamma ** 3 * logits ** 3 + 3 / (2 * gamma) * logits + 0.5, 0, 1)
    steps[logits <= -gamma / 2], steps[logits >= gamma / 2] = 0.0, 1.0
    weights = np.zeros((len(inputs), selected, experts))
    for code in range(2 ** bits):
        product = np.ones((len(inputs), selected))
        for bit in range(bits):
            on = (code >> (bits - 1 - bit)) & 1  # most significant bit first
            product *= steps[:, :, bit] if on else 1 - steps[:, :, bit]
        weights[:, :, code % experts] += product  # a code beyond K selects code - K
    mixing = np.exp(inputs @ mixing_kernel + mixing_bias)
    mixing /= mixing.sum(axis=-1, keepdims=True)
    return np.einsum("bj,bje->be", mixing, weights)


def test_dselect_k_gate_matches_the_smooth_step_selectors():
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(6, 4)).astype(np.float32)
    for experts in (4, 5):  # a power of two, and codes beyond K
        gate = dselect_k.SelectorGate(experts, selected=2, gamma=1.0)
        gate.build((None, 4))
        bits = 3 if experts == 5 else 2
        # Large enough to reach both flat parts of the step and its cubic middle.
        values = [rng.normal(scale=0.4, size=(4, 2 * bits)), rng.normal(size=2 * bits),
                  rng.normal(size=(4, 2)), rng.normal(size=2)]
        for variable, value in zip(gate.weights, values):
            variable.assign(value.astype(np.float32))
        expected = numpy_dselect_gate(inputs, *[v.astype(np.float64) for v in values],
                                      experts, 2, 1.0)
        actual = gate(inputs).numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(actual.sum(axis=1), 1.0, rtol=1e-6)


def test_dselect_k_selects_single_experts_when_the_steps_saturate():
    # Steps at 0/1: selector 0 picks code 10 (expert 2), selector 1 code 01 (expert 1).
    gate = dselect_k.SelectorGate(4, selected=2, gamma=1.0)
    gate.build((None, 1))
    gate.step_kernel.assign(np.zeros((1, 4), np.float32))
    gate.step_bias.assign(np.array([5.0, -5.0, -5.0, 5.0], np.float32))
    gate.mixing_kernel.assign(np.zeros((1, 2), np.float32))
    gate.mixing_bias.assign(np.log(np.array([0.25, 0.75], np.float32)))
    np.testing.assert_allclose(gate(np.ones((1, 1), np.float32)).numpy(),
                               [[0.0, 0.75, 0.25, 0.0]], atol=1e-6)


def test_ltb_reads_the_chosen_columns_and_learns_through_the_soft_choice():
    choice = ltb.BranchChoice(3, temperature=0.5, seed=4)
    inputs = [tf.fill((2, 3), float(value)) for value in (1.0, 10.0, 100.0)]
    choice.build([(2, 3)] * 3)
    logits = np.array([[0.0, 3.0, 0.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]], np.float32)
    choice.logits.assign(logits)
    # At inference, column t reads the column of its largest logit.
    outputs = choice(inputs, training=False)
    np.testing.assert_allclose([output.numpy()[0, 0] for output in outputs], [10.0, 100.0, 1.0])
    # Training: a one-hot draw of the Gumbel-softmax; its gradient is the softmax's.
    with tf.GradientTape() as tape:
        outputs = choice(inputs, training=True)
        total = tf.add_n([tf.reduce_sum(output) for output in outputs])
    values = np.array([output.numpy()[0, 0] for output in outputs])
    assert set(values) <= {1.0, 10.0, 100.0}
    seed = tf.constant([4, 0], tf.int64)  # the first draw
    uniform = tf.random.stateless_uniform((3, 3), seed, minval=1e-10, maxval=1.0).numpy()
    noisy = (logits - np.log(-np.log(uniform))) / 0.5
    np.testing.assert_allclose(values, np.array([1.0, 10.0, 100.0])[noisy.argmax(axis=1)])
    soft = np.exp(noisy - noisy.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    # d total / d logits[t, j] = sum_i soft_ti (delta_ij - soft_tj) * 6 c_i / 0.5 (c: the
    # columns' values, each summed over 6 entries).
    columns = 6 * np.array([1.0, 10.0, 100.0])
    expected = soft * (columns[None, :] - (soft * columns).sum(axis=1, keepdims=True)) / 0.5
    np.testing.assert_allclose(tape.gradient(total, choice.logits).numpy(), expected, rtol=1e-4,
                               atol=1e-5)
    assert int(choice.draws.numpy()) == 1  # the next call draws anew


def test_ltb_warms_up_on_the_sum_of_the_columns():
    choice = ltb.BranchChoice(2, seed=3, warmup_steps=2)
    inputs = [tf.fill((1, 2), 1.0), tf.fill((1, 2), 10.0)]
    for _ in range(2):
        np.testing.assert_allclose([o.numpy()[0, 0] for o in choice(inputs, training=True)],
                                   [11.0, 11.0])
    assert {o.numpy()[0, 0] for o in choice(inputs, training=True)} <= {1.0, 10.0}


def test_ltb_choice_survives_saving(tmp_path):
    inputs = keras.Input((3,))
    outputs = ltb.BranchChoice(2, temperature=2.0, seed=1)([inputs, -inputs])
    model = keras.Model(inputs, outputs)
    model.layers[-1].logits.assign([[0.0, 1.0], [1.0, 0.0]])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    layer = loaded.layers[-1]
    assert (layer.temperature, layer.seed) == (2.0, 1)
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(loaded(x)[0], -x)
