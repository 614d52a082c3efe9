"""Every architecture builds, trains, saves and reloads for a head of every kind, and trains
to the same weights on one replica and on two (MirroredStrategy); the ResNet-based models
train in bfloat16 over two replicas; MMoE's gates, cross-stitch units and the split of the
variables between the tasks, each checked against values computed here."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import refusal
from mtl_keras import errors
from mtl_keras.methods import base
from mtl_keras.models import architectures
from mtl_keras.models import build
from mtl_keras.models import trunks
from mtl_keras.models.architectures import cross_stitch
from mtl_keras.models.architectures import mmoe
from mtl_keras.tasks import Task
from mtl_keras.training import compile as compile_lib
from mtl_keras.training import strategy as strategy_lib

SHAPE = (16, 16, 1)
TWO = (Task("kind", 5), Task("size", kind="regression", target_mean=4.0, target_std=2.0))
EVERY_KIND = (Task("flag", kind="binary"), Task("tags", 4, kind="multilabel"), Task("kind", 5),
              Task("size", kind="regression", target_mean=4.0, target_std=2.0))
# Fewer experts than the paper's 8 keep the tests fast; the code path is the same.
# Learning-to-branch: one warm-up step, then branch draws.
OPTIONS = {"mmoe": {"experts": 3}, "dselect_k": {"experts": 3}, "ltb": {"warmup_steps": 1}}


def _tiny_stage(filters):
    def stage(x):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        return keras.layers.MaxPooling2D(2)(x)

    return stage


# Two small stages, quick to build and train (the ResNets' stages: test_head_names.py builds
# every architecture on resnet9, the bfloat16 test below trains three of them).
TINY = trunks.Trunk("tiny", (_tiny_stage(4), _tiny_stage(8)),
                    lambda x: keras.layers.GlobalAveragePooling2D()(x))


def _build(heads, architecture, trunk=TINY, **options):
    return build.build_model(heads, trunk, SHAPE, [0.4], [0.3], 0.9, architecture,
                             options or OPTIONS.get(architecture))


def _data(heads, count=16, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, *SHAPE), dtype=np.uint8)
    labels = {}
    for task in heads:
        if task.kind == "multiclass":
            labels[task.name] = rng.integers(0, task.num_classes, count)
        elif task.kind == "multilabel":
            labels[task.name] = rng.integers(0, 2, (count, task.num_classes)).astype(np.float32)
        elif task.kind == "binary":
            labels[task.name] = rng.integers(0, 2, (count, 1)).astype(np.float32)
        else:
            labels[task.name] = rng.normal(4.0, 2.0, (count, 1)).astype(np.float32)
    return images, labels


def _compile(model, heads, learning_rate=1e-3):
    compile_lib.compile_model(model, heads, keras.optimizers.SGD(learning_rate, momentum=0.9),
                              {task.name: 1.0 for task in heads}, False)


def fit_on_one_batch(model, heads, steps=2):
    """Fits `model` for `steps` steps on one global batch of 16: 8 examples twice, so that
    each of two replicas sees the statistics one replica sees over the whole batch (batch
    normalization normalises each replica's examples by their own statistics, as Keras'
    layer does, and then computes the same on one replica and on two)."""
    images, labels = _data(heads, count=8)
    batch = (np.concatenate([images, images]),
             {name: np.concatenate([values, values]) for name, values in labels.items()})
    return model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=1,
                     epochs=steps, verbose=0, shuffle=False)


@functools.cache
def trained_on_one_replica(heads, architecture):
    """A model of `architecture` and `heads` (seeded), trained by `fit_on_one_batch` at a
    learning rate of 0.05: (the model, its initial weights, its initial trainable variables,
    its training losses). One training per architecture, read (never changed) by the test
    of saving and by the two-replica comparison."""
    keras.utils.set_random_seed(0)
    model = _build(heads, architecture)
    initial = model.get_weights()
    trainable = [variable.numpy() for variable in model.trainable_variables]
    _compile(model, heads, learning_rate=0.05)
    losses = fit_on_one_batch(model, heads).history["loss"]
    return model, initial, trainable, losses


def test_every_architecture_is_registered():
    assert architectures.ARCHITECTURES.names() == ["cgc", "cross_stitch", "dselect_k", "hps",
                                                   "ltb", "mmoe", "mtan", "ple"]


@pytest.mark.parametrize("architecture", architectures.ARCHITECTURES.names())
def test_trains_saves_and_reloads_to_the_same_predictions(tmp_path, architecture):
    heads = EVERY_KIND
    model, _, before, losses = trained_on_one_replica(heads, architecture)
    images, _ = _data(heads)
    assert np.isfinite(losses).all()
    assert all(not np.allclose(first, variable.numpy())
               for first, variable in zip(before, model.trainable_variables)
               if variable.path.startswith(tuple(task.name for task in heads)))
    # The models are called, not predicted: the same layers, without tracing two predict
    # functions per architecture.
    expected = model(images, training=False)
    assert set(expected) == {task.name for task in heads}
    model.save(tmp_path / "model.keras")
    keras.backend.clear_session(free_memory=False)
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    for name, values in loaded(images, training=False).items():
        np.testing.assert_allclose(values, expected[name], rtol=1e-5, atol=1e-6)
    # The split of the variables came back with the model (declared layers included).
    for role in ("shared_variables", "private_variables"):
        assert (sorted(v.path for v in getattr(loaded._parts, role))  # noqa: SLF001
                == sorted(v.path for v in getattr(model._parts, role)))  # noqa: SLF001


def test_mmoe_gates_are_distributions_and_mix_the_experts():
    keras.utils.set_random_seed(0)
    model = _build(EVERY_KIND, "mmoe")
    mixtures = [layer for layer in model.layers if isinstance(layer, mmoe.ExpertMixture)]
    assert len(mixtures) == len(EVERY_KIND)  # one gate per task
    probe = keras.Model(model.inputs, [[mixture.input, mixture.output] for mixture in mixtures])
    images, _ = _data(EVERY_KIND, count=6)
    gates = []
    for (weights, *experts), mixed in probe.predict(images, verbose=0):
        assert weights.shape == (6, 3) and len(experts) == 3
        assert (weights >= 0).all()
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
        expected = sum(weights[:, [k]] * experts[k] for k in range(3))
        np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-6)
        gates.append(weights)
    assert not np.allclose(gates[0], gates[1])  # each task has a gate of its own


def test_cross_stitch_unit_mixes_its_inputs_linearly():
    unit = cross_stitch.CrossStitch(3, self_weight=0.7)
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(2, 4, 4, 5)).astype(np.float32) for _ in range(3)]
    outputs = unit(inputs)
    np.testing.assert_allclose(unit.mixing.numpy(), [[0.7, 0.15, 0.15], [0.15, 0.7, 0.15],
                                                     [0.15, 0.15, 0.7]], rtol=1e-6)
    mixing = rng.normal(size=(3, 3)).astype(np.float32)
    unit.mixing.assign(mixing)
    outputs = unit(inputs)
    for row in range(3):
        expected = sum(mixing[row, column] * inputs[column] for column in range(3))
        np.testing.assert_allclose(outputs[row], expected, rtol=1e-5, atol=1e-5)
    assert cross_stitch.CrossStitch.from_config(unit.get_config()).get_config() == unit.get_config()


def test_cross_stitch_at_identity_mixing_is_independent_columns():
    """Each head's output equals that of a one-head `hps` model given its column's weights."""
    keras.utils.set_random_seed(0)
    model = _build(TWO, "cross_stitch", self_weight=1.0)
    units = [layer for layer in model.layers if isinstance(layer, cross_stitch.CrossStitch)]
    assert len(units) == 1 and np.array_equal(units[0].mixing.numpy(), np.eye(2))
    images, labels = _data(TWO, count=8)
    _compile(model, TWO, learning_rate=0.05)
    model.fit(images, labels, batch_size=8, epochs=2, verbose=0)  # weights that differ
    units[0].mixing.assign(np.eye(2))  # training moved it
    outputs = model.predict(images, verbose=0)
    for task in TWO:
        alone = _build((task,), "hps")
        column = [layer for layer in model.layers
                  if layer.name in model._task_layers[task.name] and layer.weights]  # noqa: SLF001
        trunk = [layer for layer in alone.layers
                 if layer.weights and not layer.name.startswith(task.name)]
        assert [[w.shape for w in layer.weights] for layer in column] == \
            [[w.shape for w in layer.weights] for layer in trunk]
        for source, target in zip(column, trunk):
            target.set_weights(source.get_weights())
        for name in (task.name, f"{task.name}_standardised"):
            if name in [layer.name for layer in alone.layers]:
                alone.get_layer(name).set_weights(model.get_layer(name).get_weights())
        np.testing.assert_allclose(alone.predict(images, verbose=0)[task.name],
                                   outputs[task.name], rtol=1e-4, atol=1e-5)


def _trunk_variable_count():
    """Trainable variables of one trunk: an hps model's, less its heads'."""
    model = _build(EVERY_KIND, "hps")
    return len(model.trainable_variables) - 2 * len(EVERY_KIND)


# architecture → (options, private variables per task, shared variables), in trunks T.
# A head is 2 (kernel, bias), a gate 2; MTAN's attention module is 2 convolutions and 2
# batch norms (gamma, beta): 6 per stage, its f_j 3 per stage after the first; TINY has 2.
SPLITS = {
    "hps": ({}, lambda trunk: 2, lambda trunk: trunk),
    "mmoe": ({"experts": 3}, lambda trunk: 2 + 2, lambda trunk: 3 * trunk),
    "cgc": ({"task_experts": 2}, lambda trunk: 2 * trunk + 2 + 2, lambda trunk: trunk),
    "ple": ({}, lambda trunk: trunk + 2 * 2 + 2, lambda trunk: trunk + 2),
    "cross_stitch": ({"self_weight": 1.0}, lambda trunk: trunk + 2, lambda trunk: 1),
    "mtan": ({}, lambda trunk: 2 * 6 + 2, lambda trunk: trunk + 3),
}


@pytest.mark.parametrize("architecture", sorted(SPLITS))
def test_each_head_reaches_only_its_own_task_variables(architecture):
    """The split (`MultiTaskModel.variable_owners`) has the sizes the architecture implies,
    and no head's output depends on another task's variables (cross-stitch at identity
    mixing; PLE's task experts feed its shared gate, so there only the sizes hold)."""
    keras.utils.set_random_seed(0)
    trunk = _trunk_variable_count()
    options, private_count, shared_count = SPLITS[architecture]
    model = _build(EVERY_KIND, architecture, **options)
    owners = model.variable_owners()
    variables = model.trainable_variables
    private = {task.name: [v for v in variables if owners[id(v)] == {task.name}]
               for task in EVERY_KIND}
    shared = [v for v in variables if len(owners[id(v)]) > 1]
    assert len(shared) == shared_count(trunk)
    assert [len(private[task.name]) for task in EVERY_KIND] == ([private_count(trunk)]
                                                                * len(EVERY_KIND))
    assert len(shared) + sum(map(len, private.values())) == len(variables)
    if architecture == "ple":
        return
    images, _ = _data(EVERY_KIND, count=4)
    rng = np.random.default_rng(0)
    for task in EVERY_KIND:
        with tf.GradientTape() as tape:
            output = model(images, training=False)[task.name]
            # Random weights: a softmax's plain sum is 1 whatever the variables.
            total = tf.reduce_sum(output * rng.normal(size=output.shape).astype(np.float32))
        gradients = dict(zip(map(id, variables), tape.gradient(total, variables)))
        for other, owned in private.items():
            reached = [v.path for v in owned if gradients[id(v)] is not None
                       and np.any(gradients[id(v)].numpy())]
            assert (reached != []) == (other == task.name), (task.name, other, reached)


@pytest.mark.parametrize("architecture", ["cross_stitch", "mtan"])
def test_stage_wise_architectures_refuse_a_trunk_of_one_stage(architecture):
    with pytest.raises(errors.UserError) as error:
        _build(TWO, architecture, trunk="simple_cnn")
    assert str(error.value).startswith(
        f"--architecture={architecture} needs a trunk of at least 2 stages (")
    assert str(error.value).endswith(
        "--trunk=simple_cnn has 1. Choose one of: resnet18, resnet20, resnet56, resnet9.")


def test_options_are_checked():
    with pytest.raises(errors.UserError, match="^--architecture_options names expert, which "
                                               "--architecture=mmoe does not have; its options "
                                               "are: experts \\(default 8\\).$"):
        architectures.make("mmoe", {"expert": 2})
    with pytest.raises(errors.UserError, match="experts must be a whole number from 1 to 64"):
        architectures.make("mmoe", {"experts": 2.5})
    with pytest.raises(errors.UserError, match="self_weight must be a number from 0 to 1"):
        architectures.make("cross_stitch", {"self_weight": 1.5})
    assert architectures.make("ple").options == {"task_experts": 1, "shared_experts": 1,
                                                 "levels": 2}
    with pytest.raises(errors.UserError, match="needs a trunk of at least 3 stages"):
        _build(TWO, "ple", levels=3)  # TINY has 2


def test_the_entry_point_refuses_rep_grad_without_a_shared_representation(run_flags, capsys,
                                                                          tmp_path):
    message = refusal(run_flags, capsys, tmp_path / "w", "--synthetic", "--trunk=resnet9",
                      "--architecture=mmoe", "--rep_grad")
    assert message == ("--rep_grad needs a representation that every head reads; the heads of "
                       "--architecture=mmoe share none. Drop --rep_grad, or choose one of hps, "
                       "mtan.")


class _SumOfGradients(base.Method):
    """A gradient-level method that weighs every task 1: its update is the summed loss's."""

    level = "gradient"

    def task_weights(self, gramian, losses, step):
        return tf.ones([self.task_count])


def test_mtan_rep_grad_through_the_stage_outputs_is_the_summed_loss(tmp_path):
    """MTAN's representation is its trunk's stage outputs: the gradient taken there and
    carried back through the trunk equals the whole model's; a saved model reloads compiled
    with it."""
    images, labels = _data(EVERY_KIND, count=8)
    trained = []
    for method, rep_grad in ((_SumOfGradients(names := [t.name for t in EVERY_KIND]), True),
                             ("equal", False)):
        keras.utils.set_random_seed(0)
        model = _build(EVERY_KIND, "mtan")
        assert len(model._representation) == 2  # noqa: SLF001  (TINY's two stages)
        compile_lib.compile_model(model, EVERY_KIND, keras.optimizers.SGD(0.05),
                                  dict.fromkeys(names, 1.0), False, weighting=method,
                                  rep_grad=rep_grad)
        model.fit(images, labels, batch_size=8, epochs=2, verbose=0, shuffle=False)
        trained.append(model)
    for first, second in zip(*(model.trainable_variables for model in trained)):
        np.testing.assert_allclose(first.numpy(), second.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=first.path)
    trained[0].save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.rep_grad and len(loaded._representation) == 2  # noqa: SLF001


# --------------------------------------------------------------------------- replicas

def _train_under(strategy, architecture, initial=None, trunk=TINY, steps=2, heads=EVERY_KIND):
    """Trains a fresh model of `architecture` under `strategy` as the one-replica model of
    `trained_on_one_replica` was trained (on its global batch of 8 examples twice); returns
    the model."""
    with strategy.scope():
        model = _build(heads, architecture, trunk=trunk)
        if initial is not None:
            model.set_weights(initial)
        _compile(model, heads, learning_rate=0.05)
    fit_on_one_batch(model, heads, steps)
    return model


@pytest.mark.parametrize("architecture", architectures.ARCHITECTURES.names())
def test_one_replica_and_two_train_to_the_same_weights(architecture):
    one, initial, _, _ = trained_on_one_replica(EVERY_KIND, architecture)
    two = _train_under(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), architecture,
                       initial)
    # Trainable variables only: a moving variance's Bessel correction counts one replica's
    # examples.
    for first, second in zip(one.trainable_variables, two.trainable_variables):
        np.testing.assert_allclose(first.numpy(), second.numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=first.path)
    assert not np.allclose(one.get_weights()[0], initial[0])  # it did train


# mmoe and cgc are made of ple's layers (trunk experts, float32 gates, mixtures); hps is the
# model of today, which the end-to-end tests train at the default precision.
@pytest.mark.parametrize("architecture", ["ple", "cross_stitch", "mtan"])
def test_resnet_architectures_train_in_bfloat16_over_two_replicas(architecture):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    # The heads of bounded losses: two steps at 0.05 take resnet9's regression output, read
    # with the moving statistics of two steps, to infinity (in float32 too).
    heads = EVERY_KIND[:3]
    model = _train_under(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), architecture,
                         trunk="resnet9", steps=2, heads=heads)
    compute = {layer.compute_dtype for layer in model.layers if layer.weights}
    assert "bfloat16" in compute
    assert {model.get_layer(task.name).compute_dtype for task in heads} == {"float32"}
    images, _ = _data(heads, count=4)
    for name, values in model(images).items():  # called: no predict function to trace
        values = np.asarray(values)
        assert values.dtype == np.float32 and np.isfinite(values).all(), name
    assert all(np.isfinite(weights).all() for weights in model.get_weights())
