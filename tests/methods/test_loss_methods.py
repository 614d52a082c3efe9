"""The loss-level methods' maths on hand-computable cases, and the method registry's rules."""

import math

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import methods
from mtl_keras.methods import base

from helpers import refusal


def _weights(method, losses, step=0, present=None):
    """(d objective / d losses, objective) at `losses`, as the train step computes them;
    `present`: the tasks with a known label (default: every task)."""
    losses = tf.constant(losses, tf.float32)
    present = tf.ones(losses.shape, tf.bool) if present is None else tf.constant(present)
    with tf.GradientTape() as tape:
        tape.watch(losses)
        objective = method.objective(losses, tf.constant(step, tf.int64), present=present)
    return tape.gradient(objective, losses).numpy(), float(objective)


def test_equal_weighs_every_task_one():
    weights, objective = _weights(methods.make("equal", ["a", "b", "c"]), [0.5, 2.0, 3.0])
    np.testing.assert_allclose(weights, [1, 1, 1])
    assert objective == pytest.approx(5.5)


def test_uncertainty_weighting_gradients():
    """objective = sum exp(-s) L + s / 2: d/dL = exp(-s), d/ds = -exp(-s) L + 1/2."""
    method = methods.make("uw", ["a", "b"])
    method.log_variance.assign([0.0, math.log(4.0)])
    losses = tf.constant([3.0, 2.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(losses)
        objective = method.objective(losses, 0)
    np.testing.assert_allclose(tape.gradient(objective, losses), [1.0, 0.25])
    np.testing.assert_allclose(tape.gradient(objective, method.log_variance),
                               [-3.0 + 0.5, -0.25 * 2.0 + 0.5])
    assert float(objective) == pytest.approx(3.0 + 0.5 + 0.5 * math.log(4.0))


def test_dwa_weights_from_the_epoch_means():
    """Two steps per epoch: epochs 1 and 2 weigh 1; epoch 3 uses the ratios of the means
    of epochs 2 and 1: a's mean fell from 4 to 2 (ratio 0.5), b's stayed at 1 (ratio 1)."""
    method = methods.make("dwa", ["a", "b"], steps_per_epoch=2)
    history = [[5.0, 1.0], [3.0, 1.0], [2.5, 0.5], [1.5, 1.5]]  # epoch means [4, 1], [2, 1]
    for step, losses in enumerate(history):
        weights, _ = _weights(method, losses, step)
        np.testing.assert_allclose(weights, [1.0, 1.0])
    weights, _ = _weights(method, [1.0, 1.0], step=4)
    expected = 2 * np.exp(np.array([0.5, 1.0]) / 2.0) / np.exp(np.array([0.5, 1.0]) / 2.0).sum()
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    assert weights[1] > weights[0]  # the task whose loss fell more slowly weighs more


def test_dwa_temperature_is_an_option():
    method = methods.make("dwa", ["a", "b"], steps_per_epoch=1, options={"temperature": 0.5})
    for step, losses in enumerate([[4.0, 1.0], [2.0, 1.0]]):
        _weights(method, losses, step)
    weights, _ = _weights(method, [1.0, 1.0], step=2)
    expected = 2 * np.exp(np.array([0.5, 1.0]) / 0.5) / np.exp(np.array([0.5, 1.0]) / 0.5).sum()
    np.testing.assert_allclose(weights, expected, rtol=1e-6)


def test_gls_weights_are_the_geometric_mean_over_t_times_the_loss():
    losses = np.array([0.5, 2.0, 8.0])
    weights, objective = _weights(methods.make("gls", ["a", "b", "c"]), losses)
    geometric_mean = (0.5 * 2.0 * 8.0) ** (1 / 3)
    assert objective == pytest.approx(geometric_mean, rel=1e-6)
    np.testing.assert_allclose(weights, geometric_mean / (3 * losses), rtol=1e-5)


def test_gls_leaves_an_absent_task_out():
    """A task with no known label in the step (loss 0): the geometric mean of the others."""
    weights, objective = _weights(methods.make("gls", ["a", "b", "c"]), [0.5, 0.0, 8.0],
                                  present=[True, False, True])
    assert objective == pytest.approx(2.0, rel=1e-6)  # sqrt(0.5 * 8)
    np.testing.assert_allclose(weights, [2.0 / (2 * 0.5), 0.0, 2.0 / (2 * 8.0)], rtol=1e-5)
    weights, objective = _weights(methods.make("gls", ["a", "b"]), [0.0, 3.0],
                                  present=[False, True])
    assert objective == pytest.approx(3.0, rel=1e-6)  # one task: its own loss, weight 1
    np.testing.assert_allclose(weights, [0.0, 1.0], rtol=1e-6)


def test_gls_counts_a_present_task_whose_loss_is_0():
    """Presence is the train step's (a known label), not a positive loss: a present loss
    of 0 counts as the floor 1e-8, and the geometric mean falls with it."""
    weights, objective = _weights(methods.make("gls", ["a", "b", "c"]), [0.5, 0.0, 8.0])
    geometric_mean = (0.5 * 1e-8 * 8.0) ** (1 / 3)
    assert objective == pytest.approx(geometric_mean, rel=1e-4)
    np.testing.assert_allclose(weights[[0, 2]], geometric_mean / (3 * np.array([0.5, 8.0])),
                               rtol=1e-4)


def test_famo_counts_a_present_task_whose_loss_is_0():
    """A present loss of 0 counts as 1e-8 in the normaliser c = sum z / L (the others'
    weights z_t / (c L_t) nearly vanish; as absent they would be 0.2 and 0.8), and it is
    the task's last loss."""
    method = methods.make("famo", ["a", "b", "c"])
    weights, _ = _weights(method, [2.0, 0.0, 0.5], step=0)
    losses = np.array([2.0, 1e-8, 0.5])
    c = np.sum((1 / 3) / losses)
    np.testing.assert_allclose(weights[[0, 2]], ((1 / 3) / (c * losses))[[0, 2]], rtol=1e-4)
    np.testing.assert_allclose(method.previous.numpy(), losses, rtol=1e-6)


def test_famo_leaves_an_absent_task_out():
    """An absent task weighs 0 and the others as FAMO without it; its logit learns nothing
    while absent, and its fall is measured from the last step it was in."""
    method = methods.make("famo", ["a", "b", "c"])
    weights, objective = _weights(method, [2.0, 0.0, 0.5], step=0, present=[True, False, True])
    c = (1 / 3) / 2.0 + (1 / 3) / 0.5
    np.testing.assert_allclose(weights, [(1 / 3) / (c * 2.0), 0.0, (1 / 3) / (c * 0.5)],
                               rtol=1e-5)
    assert np.isfinite(objective)
    np.testing.assert_allclose(method.previous.numpy(), [2.0, 0.0, 0.5])
    # Step 1: a fell by half, b appears (no fall: never seen), c absent (its loss kept).
    _weights(method, [1.0, 4.0, 0.0], step=1, present=[True, True, False])
    np.testing.assert_allclose(method.previous.numpy(), [1.0, 4.0, 0.5])
    # The fall (log 2, 0, 0) through the softmax's Jacobian at z = 1/3: a's logit falls,
    # b's and c's rise alike; Adam's first step moves each by the learning rate.
    np.testing.assert_allclose(method.logits.numpy(), [-0.025, 0.025, 0.025], rtol=1e-3)
    # Step 2: c returns at 0.25, a fall of log 2 from its last step (0.5).
    _weights(method, [1.0, 4.0, 0.25], step=2)
    logits = method.logits.numpy()
    assert logits[2] < logits[1]


def test_rlw_weights_sum_to_one_repeat_per_step_and_change_between_steps():
    method = methods.make("rlw", ["a", "b", "c"], seed=5)
    first, _ = _weights(method, [1.0, 1.0, 1.0], step=7)
    again, _ = _weights(methods.make("rlw", ["a", "b", "c"], seed=5), [2.0, 3.0, 1.0], step=7)
    other, _ = _weights(method, [1.0, 1.0, 1.0], step=8)
    assert first.sum() == pytest.approx(1.0, rel=1e-6) and (first > 0).all()
    np.testing.assert_allclose(first, again)
    assert not np.allclose(first, other)


def test_famo_weights_and_logit_update():
    """With logits 0, z = (1/2, 1/2) and weights z / (c L), c = sum z / L. After a step
    in which a's loss fell by half and b's did not, b's logit rises above a's."""
    method = methods.make("famo", ["a", "b"])
    weights, _ = _weights(method, [2.0, 0.5], step=0)
    c = 0.5 / 2.0 + 0.5 / 0.5
    np.testing.assert_allclose(weights, [0.5 / (c * 2.0), 0.5 / (c * 0.5)], rtol=1e-5)
    np.testing.assert_allclose(method.logits.numpy(), [0.0, 0.0])
    _weights(method, [1.0, 0.5], step=1)
    logits = method.logits.numpy()
    assert logits[1] > logits[0]
    # Adam's first step moves each logit by the learning rate (times the gradient's sign).
    np.testing.assert_allclose(np.abs(logits), [0.025, 0.025], rtol=1e-3)


def numpy_stch_weights(losses, nadir, mu):
    """d/dL of mu P log sum_t exp(log(L_t / z_t) / mu) over the P tasks given."""
    losses, nadir = np.asarray(losses, np.float64), np.asarray(nadir, np.float64)
    terms = (losses / nadir) ** (1 / mu)
    return len(losses) * terms / terms.sum() / losses


def test_stch_warms_up_on_log_losses_then_takes_the_nadir_of_the_last_warmup_epoch():
    """Two steps per epoch, warmup_epochs=1: epochs 0 and 1 weigh 1 / L (log losses);
    the nadir is the mean of epoch 1's losses, each task's over the steps it was in."""
    method = methods.make("stch", ["a", "b", "c"], steps_per_epoch=2,
                          options={"warmup_epochs": 1, "mu": 0.5})
    history = [([4.0, 2.0, 1.0], None), ([3.0, 2.0, 1.0], None),  # epoch 0
               ([2.0, 0.0, 0.5], [True, False, True]), ([1.0, 3.0, 1.5], None)]  # epoch 1
    for step, (losses, present) in enumerate(history):
        weights, _ = _weights(method, losses, step, present)
        expected = np.where(present if present else True, 1 / (np.array(losses) + 1e-8), 0.0)
        np.testing.assert_allclose(weights, expected, rtol=1e-5)
    nadir = [1.5, 3.0, 1.0]  # b's from step 3 alone: absent at step 2
    losses = [1.2, 1.5, 1.1]
    weights, objective = _weights(method, losses, step=4)
    np.testing.assert_allclose(weights, numpy_stch_weights(losses, nadir, 0.5), rtol=1e-5)
    ratios = np.array(losses) / nadir
    assert objective == pytest.approx(0.5 * 3 * np.log(np.sum(ratios ** 2)), rel=1e-5)
    # The nadir is fixed: a later epoch keeps it.
    weights, _ = _weights(method, losses, step=9)
    np.testing.assert_allclose(weights, numpy_stch_weights(losses, nadir, 0.5), rtol=1e-5)


def test_stch_leaves_an_absent_task_out():
    """After the warm-up (warmup_epochs=0, one step per epoch: epoch 0 gives the nadir),
    an absent task weighs 0 and the others as STCH of two tasks; a task absent during the
    warm-up takes its nadir from its first step."""
    method = methods.make("stch", ["a", "b", "c"], options={"warmup_epochs": 0})
    _weights(method, [2.0, 0.0, 4.0], step=0, present=[True, False, True])
    weights, _ = _weights(method, [1.0, 5.0, 0.0], step=1, present=[True, True, False])
    expected = numpy_stch_weights([1.0, 5.0], [2.0, 5.0], 1.0)  # b's nadir: this step's
    np.testing.assert_allclose(weights, [expected[0], expected[1], 0.0], rtol=1e-5)
    # mu = 1: task t weighs P / (z_t sum_j L_j / z_j); by hand 2 / (2 * 1.5), 2 / (5 * 1.5).
    np.testing.assert_allclose(expected, [2 / 3, 4 / 15], rtol=1e-12)
    weights, _ = _weights(method, [1.0, 2.0, 2.0], step=2)
    np.testing.assert_allclose(weights, numpy_stch_weights([1.0, 2.0, 2.0], [2.0, 5.0, 4.0],
                                                           1.0), rtol=1e-5)


def test_stch_weighs_a_present_zero_loss_finitely():
    method = methods.make("stch", ["a", "b"], options={"warmup_epochs": 0})
    _weights(method, [1.0, 2.0], step=0)
    weights, objective = _weights(method, [0.0, 1.0], step=1)
    assert np.all(np.isfinite(weights)) and np.isfinite(objective)
    # mu = 1: weights 2 / (z_t (0 / 1 + 1 / 2)): 4 and 2.
    np.testing.assert_allclose(weights, [4.0, 2.0], rtol=1e-5)


def test_unknown_option_names_the_known_ones():
    with pytest.raises(errors.UserError) as error:
        methods.make("dwa", ["a", "b"], options={"temprature": 1.0})
    assert str(error.value) == ("--weighting_options names temprature, which --weighting=dwa "
                                "does not have; its options are: temperature (default 2).")


def test_unknown_method_lists_the_registered_ones():
    with pytest.raises(errors.UserError, match="Unknown weighting method 'nope'; choose one of: "
                                               ".*dwa, equal, .*famo, .*gls"):
        methods.make("nope", ["a"])


def test_every_method_is_documented_and_cites_its_paper():
    for name in methods.METHODS.names():
        method_class = methods.METHODS.get(name)
        assert method_class.level in ("loss", "gradient", "task_gradients")
        module = __import__(method_class.__module__, fromlist=["_"])
        assert module.__doc__ and method_class.__doc__, name
        if name != "equal":
            assert any(str(year) in module.__doc__ for year in range(2016, 2026)), name
        for option, spec in method_class.HYPERPARAMETERS.items():
            assert isinstance(spec.default, (int, float)) and spec.description, (name, option)
            spec.check(option, spec.default, "--weighting_options")  # the default is allowed


def test_a_method_is_one_registration():
    class Halves(base.Method):
        """Weighs every task 1/2 (for this test)."""

        def objective(self, losses, step):
            return 0.5 * tf.reduce_sum(losses)

    weights, _ = _weights(Halves(["a", "b"]), [1.0, 4.0])
    np.testing.assert_allclose(weights, [0.5, 0.5])


SMOKE = ("--flagfile=experiments/smoke.flags", "--epochs=1")


@pytest.mark.parametrize("flags, message", [
    (("--weighting=nope",), "Unknown weighting method 'nope'; choose one of: "),
    (("--weighting=dwa", "--weighting_options=temprature=1"),
     "--weighting_options names temprature, which --weighting=dwa does not have; its options "
     "are: temperature (default 2)."),
    (("--weighting=dwa", "--weighting_options=temperature"),
     "--weighting_options item 'temperature' is not NAME=NUMBER; write e.g. "
     "--weighting_options=c=0.4."),
    (("--weighting=uw", "--rep_grad"), "--rep_grad applies to gradient-level methods; "
                                       "--weighting=uw weights the losses."),
])
def test_the_entry_point_refuses_bad_method_flags(run_flags, capsys, tmp_path, flags, message):
    assert refusal(run_flags, capsys, tmp_path / "w", *SMOKE, *flags).startswith(message)
