"""The multi-task train step: exact task losses, the variable split, every method the same on
one replica and on two, and the gradient path against the loss path."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import methods
from mtl_keras import tasks as tasks_lib
from mtl_keras.methods import base
from mtl_keras.models import build
from mtl_keras.step import model as model_lib
from mtl_keras.training import run_state
from mtl_keras.training import strategy as strategy_lib

BATCH = 16


def _model():
    """Three heads of three kinds on a two-layer trunk; float inputs of 6 features."""
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh", name="trunk_1")(inputs)
    shared = keras.layers.Dense(5, activation="tanh", name="trunk_2")(hidden)
    outputs = {"kind": keras.layers.Dense(3, activation="softmax", name="kind")(shared),
               "flag": keras.layers.Dense(1, activation="sigmoid", name="flag")(shared),
               "size": keras.layers.Dense(1, name="size")(shared)}
    model = model_lib.MultiTaskModel(inputs, outputs)
    model.set_representation(shared)
    return model


LOSSES = {"kind": "sparse_categorical_crossentropy", "flag": "binary_crossentropy", "size": "mse"}


def _batch(seed=0):
    """A batch whose known labels fall unevenly over its two halves (the two replicas'):
    `kind` is known on 7 examples of the first half and 2 of the second."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, 6)).astype(np.float32)
    y = {"kind": rng.integers(0, 3, BATCH), "flag": rng.integers(0, 2, BATCH).astype(np.float32),
         "size": rng.normal(2.0, 1.5, BATCH).astype(np.float32)}
    kind_mask = np.zeros(BATCH, np.float32)
    kind_mask[[0, 1, 2, 3, 4, 5, 6, 9, 14]] = 1
    masks = {"kind": kind_mask, "flag": np.ones(BATCH, np.float32),
             "size": (np.arange(BATCH) % 3 != 0).astype(np.float32)}
    return x, y, masks


def _train(strategy, weighting, rep_grad=False, steps=3, learning_rate=0.05, initial=None,
           loss_weights=None):
    """Trains a fresh `_model` for `steps` steps (one per epoch) on the same batch under
    `strategy`; returns (model, history)."""
    x, y, masks = _batch()
    with strategy.scope():
        model = _model()
        if initial is not None:
            model.set_weights(initial)
        if isinstance(weighting, str):
            method = methods.make(weighting, model.task_names, steps_per_epoch=1, seed=3)
        else:
            method = weighting(model.task_names, steps_per_epoch=1, seed=3)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=LOSSES,
                      loss_weights=loss_weights, weighting=method, rep_grad=rep_grad)
    data = tf.data.Dataset.from_tensors((x, y, masks)).repeat()
    history = model.fit(data, steps_per_epoch=1, epochs=steps, verbose=0, shuffle=False)
    return model, history.history


def _model_weights(model):
    method_ids = {id(v) for v in model.weighting_method.variables}
    return [v.numpy() for v in model.variables if id(v) not in method_ids]


# Trained on one replica and on two: every method that carries something of its own across
# steps or replicas (state, trainable variables, random draws) and one pure method per level
# (mgda and upgrad for the gradient level), which carry the step's own reductions. Every other
# method is a pure function of the step's global inputs
# (test_the_methods_left_out_are_pure_functions_of_the_global_inputs): the same inputs on every
# replica give it the same answer, so its runs on one replica and on two cannot part where a
# pure method's of its level do not.
PURE_REPRESENTATIVES = ("equal", "mgda", "upgrad", "trimmed_mean")
CARRYING_STATE = ("uw", "dwa", "rlw", "famo", "stch", "pcgrad", "gradvac", "gradnorm", "imtl",
                  "graddrop", "moco", "db_mtl", "excess_mtl", "modo", "sdmgrad")
# With --rep_grad a gradient-level method sees the Gramian of the representation's task
# gradients instead of the parameters'; gathering those over the replicas and stepping with the
# weights is the train step's, the same for every method. So the ones that differ in how they
# use the step: min-norm weights (mgda), learned weights (gradnorm), state across steps
# (gradvac), learned loss scales (imtl), the projections of upgrad.
REP_GRAD_CASES = ("mgda", "gradnorm", "gradvac", "imtl", "upgrad")
CASES = [(name, False) for name in (*PURE_REPRESENTATIVES, *CARRYING_STATE)] + [
    (name, True) for name in REP_GRAD_CASES]


def test_the_rep_grad_cases_are_gradient_methods():
    assert all(methods.METHODS.get(name).level == "gradient" for name in REP_GRAD_CASES)


def _level_call(method, rng):
    """Calls the method's level function once on random global inputs of 3 tasks (one absent
    from the batch); returns its outputs as numpy arrays."""
    losses = tf.constant(rng.uniform(0.5, 2.0, 3), tf.float32)
    present = tf.constant([True, False, True])
    if method.level == "loss":
        return [method.objective(losses, 4, present).numpy()]
    if method.level == "gradient":
        jacobian = rng.normal(size=(3, 5)) * np.array([[1.0], [0.0], [1.0]])
        gramian = tf.constant(jacobian @ jacobian.T, tf.float32)
        return [method.transform(losses, present).numpy(),
                method.task_weights(gramian, losses, 4, present).numpy()]
    gradients = rng.normal(size=(method.samples, 3, 5)) * np.array([[1.0], [0.0], [1.0]])
    gradients = tf.constant(gradients[0] if method.samples == 1 else gradients, tf.float32)
    method.build((3, 5))
    update, weights = method.combine(gradients, losses, 4, present)
    return [update.numpy()] + ([] if weights is None else [weights.numpy()])


def test_the_methods_left_out_are_pure_functions_of_the_global_inputs(monkeypatch):
    """No variable, no random draw, the same answer to the same inputs: what a method needs
    for its two-replica run to be its one-replica run once the step's inputs are global."""
    left_out = sorted(set(methods.METHODS.names()) - {name for name, _ in CASES})
    assert "nash_mtl" in left_out and "gls" in left_out  # the rule leaves some out

    def no_random_draw(self, step, stream=0):
        raise AssertionError(f"{type(self).__name__} draws at random: add it to CARRYING_STATE")

    monkeypatch.setattr(base.Method, "random_seed", no_random_draw)
    for name in left_out:
        answers = []
        for _ in range(2):
            method = methods.make(name, ["a", "b", "c"], steps_per_epoch=1, seed=3)
            answers.append(_level_call(method, np.random.default_rng(7)))
            assert not method.variables, f"{name} has variables: add it to CARRYING_STATE"
        for first, second in zip(*answers):
            np.testing.assert_array_equal(first, second, err_msg=name)


@pytest.mark.parametrize("weighting, rep_grad", CASES)
def test_methods_train_the_same_on_one_replica_and_on_two(weighting, rep_grad):
    keras.utils.set_random_seed(0)
    initial = _model().get_weights()
    one, one_history = _train(tf.distribute.get_strategy(), weighting, rep_grad, initial=initial)
    two, two_history = _train(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), weighting,
                              rep_grad, initial=initial)
    for first, second in zip(_model_weights(one), _model_weights(two)):
        np.testing.assert_allclose(first, second, rtol=2e-5, atol=2e-6)
    for first, second in zip(one.weighting_method.variables, two.weighting_method.variables):
        np.testing.assert_allclose(first.numpy(), second.numpy(), rtol=2e-5, atol=2e-6)
    assert one_history.keys() == two_history.keys()
    for key in one_history:
        np.testing.assert_allclose(one_history[key], two_history[key], rtol=2e-5, atol=2e-6,
                                   err_msg=key)
    assert not np.allclose(_model_weights(one)[0], initial[0])  # it did train


def test_task_losses_are_means_over_the_known_labels_of_the_global_batch():
    """With a learning rate of 0 the logged losses are those of the initial weights: the
    mean over the whole batch's known labels, not the mean of the two halves' means."""
    keras.utils.set_random_seed(0)
    model = _model()
    x, y, masks = _batch()
    outputs = model(x)
    probabilities = outputs["kind"].numpy()
    known = masks["kind"] > 0
    kind = -np.log(probabilities[np.arange(BATCH), y["kind"]])[known].mean()
    flag_p = outputs["flag"].numpy()[:, 0]
    flag = -(y["flag"] * np.log(flag_p) + (1 - y["flag"]) * np.log(1 - flag_p)).mean()
    size_known = masks["size"] > 0
    size = ((outputs["size"].numpy()[:, 0] - y["size"]) ** 2)[size_known].mean()
    halves = [-np.log(probabilities[np.arange(BATCH), y["kind"]])[part][known[part]].mean()
              for part in (slice(0, 8), slice(8, 16))]
    assert abs(np.mean(halves) - kind) > 0.01  # the data tells the two averages apart
    _, history = _train(strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), "equal", steps=1,
                        learning_rate=0.0, initial=model.get_weights(),
                        loss_weights={"kind": 2.0, "size": 0.5})
    np.testing.assert_allclose(history["kind_loss"], [kind], rtol=1e-5)
    np.testing.assert_allclose(history["flag_loss"], [flag], rtol=1e-5)
    np.testing.assert_allclose(history["size_loss"], [size], rtol=1e-5)
    np.testing.assert_allclose(history["loss"], [2.0 * kind + flag + 0.5 * size], rtol=1e-5)


class _UnitWeights(base.Method):
    """A gradient-level method that weighs every task 1: its update must be equal's."""

    level = "gradient"

    def task_weights(self, gramian, losses, step):
        return tf.ones([self.task_count])


class _SummedGradients(base.TaskGradientMethod):
    """A task-gradient method whose update is the sum of the task gradients: equal's."""

    def combine(self, gradients, losses, step):
        return tf.reduce_sum(gradients, axis=0), None


@pytest.mark.parametrize("rep_grad", [False, True])
def test_gradient_path_with_unit_weights_is_the_loss_path(rep_grad):
    keras.utils.set_random_seed(0)
    initial = _model().get_weights()
    strategy = tf.distribute.get_strategy()
    summed, _ = _train(strategy, "equal", initial=initial, loss_weights={"flag": 3.0})
    combined, history = _train(strategy, _UnitWeights, rep_grad, initial=initial,
                               loss_weights={"flag": 3.0})
    for first, second in zip(_model_weights(summed), _model_weights(combined)):
        np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)
    assert history["kind_weight"] == [1.0, 1.0, 1.0]


def _task_gradients(model, x, y, masks):
    """{task: the gradient of its loss (mean over its known labels) over the shared
    variables, flattened}, for the tasks with a known label, by a tape of the test's own."""
    shared = [v for v in model.trainable_variables if v.path.startswith("trunk")]
    gradients = {}
    for name, loss in (("kind", keras.losses.SparseCategoricalCrossentropy()),
                       ("flag", keras.losses.BinaryCrossentropy()),
                       ("size", keras.losses.MeanSquaredError())):
        if not masks[name].any():
            continue
        with tf.GradientTape() as tape:
            value = loss(y[name], model(x)[name], sample_weight=masks[name])
            # Keras divides by the batch; the step by the known labels.
            value = value * BATCH / masks[name].sum()
        gradients[name] = np.concatenate([g.numpy().ravel() for g in tape.gradient(value, shared)])
    return gradients


def _cosine(first, second):
    return first @ second / np.linalg.norm(first) / np.linalg.norm(second)


def test_gradient_diagnostics_are_the_task_gradients_norms_and_cosines():
    """The logged norms and cosine are those of the task gradients over the shared
    variables, computed here with a tape of their own."""
    keras.utils.set_random_seed(0)
    model = _model()
    x, y, masks = _batch()
    gradients = _task_gradients(model, x, y, masks)
    _, history = _train(tf.distribute.get_strategy(), _UnitWeights, steps=1,
                        learning_rate=0.0, initial=model.get_weights())
    for name, gradient in gradients.items():
        np.testing.assert_allclose(history[f"{name}_gradient_norm"], [np.linalg.norm(gradient)],
                                   rtol=1e-4)
    kind, flag = gradients["kind"], gradients["flag"]
    np.testing.assert_allclose(history["gradient_cosine_kind_flag"],
                               [kind @ flag / np.linalg.norm(kind) / np.linalg.norm(flag)],
                               rtol=1e-4, atol=1e-6)


class _WeightsByStep(base.Method):
    """A gradient-level method that weighs every task (step + 1): the logged weights of an
    epoch tell which of its steps they averaged over."""

    level = "gradient"

    def task_weights(self, gramian, losses, step):
        return tf.fill([self.task_count], 1.0 + tf.cast(step, tf.float32))


def test_diagnostics_average_over_the_steps_in_which_each_task_had_known_labels():
    """An epoch of two steps (learning rate 0: the model stays as it is); `flag` has no
    known label in the second. Its weight, gradient norm and cosines are those of the
    first step alone; the other tasks' average both steps, each step counting once."""
    keras.utils.set_random_seed(0)
    model = _model()
    first, second = _batch(seed=0), _batch(seed=1)
    second[2]["flag"] = np.zeros(BATCH, np.float32)
    gradients = [_task_gradients(model, *batch) for batch in (first, second)]
    assert set(gradients[1]) == {"kind", "size"}
    with tf.distribute.get_strategy().scope():
        trained = _model()
        trained.set_weights(model.get_weights())
        trained.compile(optimizer=keras.optimizers.SGD(0.0), loss=LOSSES,
                        weighting=_WeightsByStep(trained.task_names))
    data = tf.data.Dataset.from_tensors(first).concatenate(tf.data.Dataset.from_tensors(second))
    logs = {key: values[0] for key, values in trained.fit(
        data, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False).history.items()}

    def norms(name):
        return [np.linalg.norm(step[name]) for step in gradients if name in step]

    def cosines(one, other):
        return [_cosine(step[one], step[other]) for step in gradients
                if one in step and other in step]

    expected = {"kind_weight": 1.5, "flag_weight": 1.0, "size_weight": 1.5,
                **{f"{name}_gradient_norm": np.mean(norms(name)) for name in LOSSES},
                **{f"gradient_cosine_{one}_{other}": np.mean(cosines(one, other))
                   for one, other in (("kind", "flag"), ("kind", "size"), ("flag", "size"))}}
    assert len(norms("flag")) == 1 and len(cosines("kind", "size")) == 2
    for key, value in expected.items():
        assert logs[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    # The example tells the averages apart: with flag's second step counted (as 0), its
    # figures would be halved, and every figure is far from 0.
    for key in ("flag_gradient_norm", "gradient_cosine_kind_flag", "gradient_cosine_flag_size"):
        assert abs(expected[key]) > 0.05, key
    assert abs(np.mean(cosines("kind", "size")) - cosines("kind", "size")[0]) > 0.05


def test_hard_sharing_splits_trunk_and_heads():
    keras.utils.set_random_seed(0)
    heads = [tasks_lib.Task("fine", 10), tasks_lib.Task("coarse", 4),
             tasks_lib.Task("age", kind="regression", target_mean=30.0, target_std=10.0)]
    model = build.build_model(heads, "simple_cnn", (12, 12, 3), [0.5] * 3, [0.2] * 3, 0.9)
    model.compile(optimizer="sgd", loss={"fine": "sparse_categorical_crossentropy",
                                         "coarse": "sparse_categorical_crossentropy",
                                         "age": "mse"})
    parts = model._parts  # noqa: SLF001
    private = sorted(v.path for v in parts.private_variables)
    assert private == sorted(["fine/kernel", "fine/bias", "coarse/kernel", "coarse/bias",
                              "age_standardised/kernel", "age_standardised/bias"])
    trunk = [v for v in model.trainable_variables if v.path.split("/")[0] not in
             ("fine", "coarse", "age_standardised")]
    assert {id(v) for v in parts.shared_variables} == {id(v) for v in trunk}
    assert model.task_names == ("fine", "coarse", "age")


def test_a_saved_model_loads_with_its_losses_weights_and_method(tmp_path):
    keras.utils.set_random_seed(0)
    model, _ = _train(tf.distribute.get_strategy(), "uw", steps=2,
                      loss_weights={"kind": 2.0})
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x, y, masks = _batch()
    for name, output in model.predict(x, verbose=0).items():
        np.testing.assert_allclose(loaded.predict(x, verbose=0)[name], output, rtol=1e-6)
    assert type(loaded.weighting_method).__name__ == "UncertaintyWeighting"
    np.testing.assert_allclose(loaded.weighting_method.log_variance.numpy(),
                               model.weighting_method.log_variance.numpy())
    assert loaded.weighting_method.log_variance.numpy().any()  # it learned, and came back
    expected = model.evaluate(x, y, sample_weight=masks, verbose=0, return_dict=True)
    got = loaded.evaluate(x, y, sample_weight=masks, verbose=0, return_dict=True)
    assert got.keys() == expected.keys() and "kind_weight" not in got
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, err_msg=key)


def test_rep_grad_needs_a_gradient_method_and_a_representation():
    model = _model()
    with pytest.raises(ValueError, match="gradient-level"):
        model.compile(optimizer="sgd", loss=LOSSES, weighting="uw", rep_grad=True)
    inputs = keras.Input((3,))
    bare = model_lib.MultiTaskModel(inputs, {"a": keras.layers.Dense(1, name="a")(inputs)})
    with pytest.raises(ValueError, match="set_representation"):
        bare.compile(optimizer="sgd", loss="mse", weighting=_UnitWeights(["a"]),
                     rep_grad=True)


def test_compile_names_tasks_without_a_loss():
    with pytest.raises(ValueError, match="No loss for task"):
        _model().compile(optimizer="sgd", loss={"kind": "sparse_categorical_crossentropy"})
    with pytest.raises(ValueError, match="nope"):
        _model().compile(optimizer="sgd", loss=LOSSES, loss_weights={"nope": 1.0})


@pytest.mark.parametrize("method", [_UnitWeights, _SummedGradients])
def test_float16_loss_scaling_is_undone_before_the_method_sees_the_gradients(method):
    """Under mixed_float16 Keras scales the loss (by 32,768 at first); the Gramian (or the
    task gradients) the method sees, and the logged norms, must be those of the unscaled
    gradients, and the update equal's."""
    keras.utils.set_random_seed(0)
    initial = _model().get_weights()
    _, plain = _train(tf.distribute.get_strategy(), method, steps=1, learning_rate=0.0,
                      initial=initial)
    keras.mixed_precision.set_global_policy("mixed_float16")
    # The first steps overflow and are skipped while Keras lowers the scale, as with equal.
    model, scaled = _train(tf.distribute.get_strategy(), method, steps=4,
                           learning_rate=0.05, initial=initial)
    summed, _ = _train(tf.distribute.get_strategy(), "equal", steps=4, learning_rate=0.05,
                       initial=initial)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    for name in ("kind", "flag", "size"):
        np.testing.assert_allclose(scaled[f"{name}_gradient_norm"][0],
                                   plain[f"{name}_gradient_norm"][0], rtol=2e-2)
    assert all(np.isfinite(w).all() for w in _model_weights(model))
    assert not np.allclose(model.get_weights()[0], initial[0])  # the scaled update was applied
    for first, second in zip(_model_weights(model), _model_weights(summed)):
        np.testing.assert_allclose(first, second, rtol=1e-2, atol=1e-3)


def test_the_run_state_keeps_the_methods_state(tmp_path):
    """A resumed run continues the method where it stopped: DWA's epoch means, FAMO's
    logits and MoCo's tracked gradients (sized by the step) are saved and restored with the
    model's variables."""
    x, y, masks = _batch()
    spec = tf.data.Dataset.from_tensors((x, y, masks)).element_spec
    for weighting in ("dwa", "famo", "moco"):
        keras.utils.set_random_seed(0)
        model, _ = _train(tf.distribute.get_strategy(), weighting, steps=3)
        saved = [v.numpy() for v in model.weighting_method.variables]
        assert any(np.any(value) for value in saved)
        folder = tmp_path / weighting
        run_state.save(str(folder), model, run_state.Progress(epoch=3, steps_per_epoch=1))
        fresh = _model()
        fresh.compile(optimizer=keras.optimizers.SGD(0.05), loss=LOSSES,
                      weighting=methods.make(weighting, fresh.task_names, steps_per_epoch=1,
                                             seed=3))
        _, index = run_state.load(str(folder))
        run_state.restore_model(str(folder), fresh, index, spec)
        for value, variable in zip(saved, fresh.weighting_method.variables):
            np.testing.assert_array_equal(variable.numpy(), value)


@pytest.mark.parametrize("rep_grad", [False, True])
def test_gradient_methods_train_under_bfloat16(rep_grad):
    """The CPU default: 16-bit activations, so 16-bit representation gradients."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    initial = _model().get_weights()
    model, history = _train(tf.distribute.get_strategy(), "upgrad", rep_grad, initial=initial)
    assert all(np.isfinite(w).all() for w in _model_weights(model))
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]


def test_an_epochs_task_loss_is_the_mean_over_its_known_labels():
    """Two batches, a head known on 7 examples of the first and 1 of the second: the
    evaluated loss is the mean over the 8 known labels, not the mean of the batch means."""
    keras.utils.set_random_seed(0)
    model = _model()
    model.compile(optimizer="sgd", loss=LOSSES)
    x, y, masks = _batch()
    masks = dict(masks, kind=np.array([1] * 7 + [0] * 8 + [1], np.float32))
    values = -np.log(model.predict(x, verbose=0)["kind"][np.arange(BATCH), y["kind"]])
    logs = model.evaluate(x, y, sample_weight=masks, batch_size=8, verbose=0, return_dict=True)
    expected = values[masks["kind"] > 0].mean()
    assert abs(np.mean([values[:7].mean(), values[15]]) - expected) > 0.01
    np.testing.assert_allclose(logs["kind_loss"], expected, rtol=1e-5)


def _regularized_model(l2):
    """`_model` with an L2 penalty `l2` on the shared layer's kernel and on the `kind` head's."""
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh", name="trunk_1")(inputs)
    shared = keras.layers.Dense(5, activation="tanh", name="trunk_2",
                                kernel_regularizer=keras.regularizers.L2(l2))(hidden)
    outputs = {"kind": keras.layers.Dense(3, activation="softmax", name="kind",
                                          kernel_regularizer=keras.regularizers.L2(l2))(shared),
               "flag": keras.layers.Dense(1, activation="sigmoid", name="flag")(shared),
               "size": keras.layers.Dense(1, name="size")(shared)}
    model = model_lib.MultiTaskModel(inputs, outputs)
    model.set_representation(shared)
    return model


@pytest.mark.parametrize("weighting, rep_grad, replicas", [
    ("equal", False, 1), ("equal", False, 2), ("mgda", False, 2), ("mgda", True, 1),
    ("trimmed_mean", False, 2)])
def test_the_layers_regularizers_join_every_update(weighting, rep_grad, replicas):
    """One SGD step with an L2 penalty l on two kernels moves each by -lr·2l·w beyond the step
    without it, on one replica or two, whatever the method (the penalty is no task's)."""
    keras.utils.set_random_seed(0)
    fresh = _regularized_model(0.0)
    initial = fresh.get_weights()
    initial_by_path = {v.path: v.numpy() for v in fresh.weights}
    strategy = (strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]) if replicas == 2
                else tf.distribute.get_strategy())
    learning_rate, l2 = 0.1, 0.5
    x, y, masks = _batch()
    data = tf.data.Dataset.from_tensors((x, y, masks)).repeat()
    stepped = []
    for penalty in (0.0, l2):
        with strategy.scope():
            model = _regularized_model(penalty)
            model.set_weights(initial)
            model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=LOSSES,
                          weighting=methods.make(weighting, model.task_names), rep_grad=rep_grad)
        model.fit(data, steps_per_epoch=1, epochs=1, verbose=0)
        stepped.append({v.path: v.numpy() for v in model.trainable_variables})
    plain, penalized = stepped
    for path, value in penalized.items():
        expected = plain[path]
        if path in ("trunk_2/kernel", "kind/kernel"):
            expected = expected - learning_rate * 2 * l2 * initial_by_path[path]
        np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-6, err_msg=path)
