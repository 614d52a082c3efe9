"""The package as a library: the README's Python examples, a functional model of the test's own
through `wrap`, `compile` and `fit` with masks and methods on one replica and two, its saved
file loaded by Keras after `import mtl_keras`, and a trunk of the user's under `build_model`."""

import dataclasses
import functools
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras
from mtl_keras.data import source
from mtl_keras.training import strategy as strategy_lib

from helpers import REPO

README = REPO / "README.md"
FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")


def _python_blocks(section):
    """The ```python blocks of the README's section `section`, in order."""
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


def _subset(loader, train, test):
    """A dataset loader that keeps the first `train` training and `test` test images."""

    def load(config):
        data = loader(config)
        return dataclasses.replace(data, train=data.train.take(np.arange(train)),
                                   test=data.test.take(np.arange(test)))
    return load


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian's dataset-fashion-mnist is not "
                    "installed (apt-get install -y dataset-fashion-mnist)")
def test_the_readme_python_examples_train_on_real_fashion_mnist(tmp_path, monkeypatch, capsys):
    # The README's code as written, on the first 2,048 real training images (time).
    entries = source.DATASETS._entries  # noqa: SLF001
    original = entries["fashion_mnist"]
    monkeypatch.setitem(entries, "fashion_mnist", dataclasses.replace(
        original, value=_subset(original.value, 2048, 1000)))
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks("Use it from Python")
    assert len(blocks) == 3 and len(blocks[0].splitlines()) <= 25
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    accuracies = dict(re.findall(r"^(fine|mid|coarse): accuracy (\d\.\d{4})$", printed, re.M))
    assert set(accuracies) == {"fine", "mid", "coarse"}
    # Above chance (10, 6 and 2 classes) after one epoch on 2,048 real images: each head learned.
    assert float(accuracies["fine"]) > 0.3 and float(accuracies["coarse"]) > 0.7
    run = namespace["run"]
    assert (tmp_path / "runs" / "fashion-lenet" / "metrics.json").exists()
    assert run.metrics["heads"]["fine"]["accuracy"] > 0.2
    reloaded = keras.saving.load_model(tmp_path / "fashion_mmoe.keras")
    assert type(reloaded.weighting_method) is mtl_keras.METHODS.get("cagrad")
    assert reloaded.weighting_method.options["c"] == 0.4


def _functional_model(seed=0):
    """A small two-head functional model of the test's own (not one of mtl_keras')."""
    keras.utils.set_random_seed(seed)
    images = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(images)
    features = keras.layers.Dense(8, activation="relu", name="shared")(keras.layers.Flatten()(x))
    outputs = {"kind": keras.layers.Dense(3, activation="softmax", name="kind")(features),
               "size": keras.layers.Dense(1, name="size")(features)}
    return keras.Model(images, outputs), features


def _data(count=32):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(count, 8, 8, 1)).astype("float32")
    labels = {"kind": rng.integers(0, 3, count), "size": rng.normal(size=(count, 1)).astype("float32")}
    # Half the "size" labels are unknown: sample weight 0.
    masks = {"kind": np.ones(count, "float32"), "size": (np.arange(count) % 2).astype("float32")}
    return images, labels, masks


def _train(method, strategy, rep_grad=False):
    images, labels, masks = _data()
    with strategy.scope():
        functional, features = _functional_model()
        model = mtl_keras.wrap(functional, representation=features)
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss={"kind": "sparse_categorical_crossentropy", "size": "mse"},
                      metrics={"kind": ["accuracy"], "size": ["mae"]},
                      loss_weights={"kind": 1.0, "size": 0.5}, weighting=method, rep_grad=rep_grad)
    history = model.fit(images, labels, sample_weight=masks, batch_size=16, epochs=2, verbose=0,
                        shuffle=False)
    return model, history


@functools.cache
def _on_one_replica(method, rep_grad):
    """`_train` on one replica, once per method: the tests read the model, none changes it."""
    return _train(method, tf.distribute.get_strategy(), rep_grad)


@pytest.mark.parametrize("method,rep_grad", [("upgrad", True), ("uw", False)])
def test_a_users_functional_model_trains_with_masks_the_same_on_one_replica_and_two(method,
                                                                                    rep_grad):
    one, history = _on_one_replica(method, rep_grad)
    assert set(one.task_names) == {"kind", "size"}
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    keras.backend.clear_session(free_memory=False)
    # The process's one MirroredStrategy over these devices (see strategy.mirrored_strategy).
    two, _ = _train(method, strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"]), rep_grad)
    for left, right in zip(one.get_weights(), two.get_weights()):
        np.testing.assert_allclose(left, right, rtol=2e-4, atol=2e-5)


def test_a_masked_label_changes_nothing():
    # The unknown "size" labels are replaced by absurd values: the run is the same.
    images, labels, masks = _data()
    results = []
    for size in (labels["size"], np.where(masks["size"][:, None] > 0, labels["size"], 1e6)):
        keras.backend.clear_session(free_memory=False)
        functional, _ = _functional_model()
        model = mtl_keras.wrap(functional)
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss={"kind": "sparse_categorical_crossentropy", "size": "mse"})
        model.fit(images, {**labels, "size": size.astype("float32")}, sample_weight=masks,
                  batch_size=16, epochs=1, verbose=0, shuffle=False)
        results.append(model.get_weights())
    for left, right in zip(*results):
        np.testing.assert_allclose(left, right, rtol=1e-6)


def test_a_saved_wrapped_model_loads_with_keras_after_import_mtl_keras(tmp_path):
    model, _ = _on_one_replica("upgrad", True)
    images = _data()[0]
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "images.npy", images)
    script = ("import sys, numpy as np\nimport mtl_keras, keras\n"
              "model = keras.saving.load_model(sys.argv[1])\n"
              "out = model.predict(np.load(sys.argv[2]), verbose=0)\n"
              "np.savez(sys.argv[3], **out)\n"
              "print(type(model).__name__, type(model.weighting_method).__name__, model.rep_grad)\n")
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "images.npy"),
                             str(tmp_path / "out.npz")], capture_output=True, text=True, timeout=120,
                            env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["MultiTaskModel", "UPGrad", "True"]
    assert "cuInit" not in result.stderr and "oneDNN" not in result.stderr, result.stderr
    loaded = np.load(tmp_path / "out.npz")
    expected = model.predict(images, verbose=0)
    for name in ("kind", "size"):
        np.testing.assert_allclose(loaded[name], expected[name], rtol=1e-5, atol=1e-6)


def test_wrap_refuses_what_is_not_a_functional_model():
    with pytest.raises(ValueError, match="functional Keras model"):
        mtl_keras.wrap(keras.Sequential([keras.layers.Dense(2)]))


@pytest.mark.parametrize("architecture", ["hps", "mmoe"])
def test_build_model_takes_a_users_keras_trunk(architecture):
    trunk = keras.Sequential([keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Conv2D(6, 3, activation="relu")], name="my_trunk")
    tasks = [mtl_keras.Task("digit", 10), mtl_keras.Task("odd", kind="binary")]
    model = mtl_keras.build_model(tasks, trunk, (12, 12, 1), architecture=architecture,
                                  architecture_options={"experts": 2} if architecture == "mmoe" else None)
    assert model.get_layer("my_trunk") is trunk  # the user's own layer, weights and all
    model.compile(optimizer="adam", weighting="mgda")  # each head's default loss and metrics
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (16, 12, 12, 1)).astype("uint8")
    labels = {"digit": rng.integers(0, 10, 16), "odd": rng.integers(0, 2, (16, 1)).astype("float32")}
    logs = model.fit(images, labels, epochs=1, batch_size=8, verbose=0).history
    assert {"digit_accuracy", "odd_auc", "digit_loss", "odd_loss"} <= set(logs)


def test_train_from_python_returns_metrics_and_model_and_raises_user_errors(tmp_path):
    with pytest.raises(ValueError, match="--epochs must be at least 1"):
        mtl_keras.train(synthetic=True, epochs=0, workdir=str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()
    run = mtl_keras.train(dataset="cifar100", synthetic=True, synthetic_examples=256,
                          trunk="simple_cnn", epochs=1, batch_size=64, validation_size=0,
                          workdir=str(tmp_path / "run"))
    assert set(run.metrics["heads"]) == {"fine", "coarse"}
    assert run.model.task_names == ("fine", "coarse")
    assert (tmp_path / "run" / "metrics.json").exists() and run.workdir == str(tmp_path / "run")
