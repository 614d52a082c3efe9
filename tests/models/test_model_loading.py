"""Loading a saved model imports nothing its configuration names: a custom loss's module is
used only when the caller imported it or passed the function."""

import sys

import keras
import numpy as np
import pytest

from mtl_keras import tasks as tasks_lib
from mtl_keras.models import build
from mtl_keras.training import compile as compile_lib
from mtl_keras.heads import losses  # noqa: F401  (registers HeadLoss for loading)

MODULE = "loss_that_tells_on_import"
SOURCE = '''
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("imported")

from keras import ops


def absolute_error(y_true, y_pred):
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)
'''


@pytest.fixture
def saved_model(tmp_path, monkeypatch):
    """A model.keras whose regression head's loss is MODULE:absolute_error, saved by a run
    that imported MODULE (the user named it), then MODULE forgotten again."""
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    task = tasks_lib.Task("age", kind="regression", loss=f"{MODULE}:absolute_error",
                          target_mean=40.0, target_std=10.0)
    model = build.build_model((task,), "simple_cnn", (8, 8, 3), np.full(3, 0.5), np.full(3, 0.25))
    compile_lib.compile_model(model, (task,), keras.optimizers.SGD(0.01), {"age": 1.0}, False)
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    model.fit(images, {"age": np.full((4, 1), 40.0, np.float32)}, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    expected = model.predict(images, verbose=0)["age"]
    keras.backend.clear_session(free_memory=False)
    del sys.modules[MODULE]
    (tmp_path / "imported.txt").unlink()
    yield path, images, expected
    sys.modules.pop(MODULE, None)


def test_loading_imports_nothing_and_predicts(saved_model):
    path, images, expected = saved_model
    model = keras.saving.load_model(path)  # with its training configuration
    assert MODULE not in sys.modules
    assert not (path.parent / "imported.txt").exists()
    np.testing.assert_allclose(model.predict(images, verbose=0)["age"], expected, rtol=1e-5)
    with pytest.raises(ValueError, match=f"The loss '{MODULE}:absolute_error' is not available: "
                                         f"loading a model never imports"):
        model.evaluate(images, {"age": np.full((4, 1), 40.0)}, verbose=0)
    assert MODULE not in sys.modules


def test_the_caller_chooses_the_loss(saved_model):
    path, images, _ = saved_model
    labels = {"age": np.full((4, 1), 40.0, np.float32)}
    calls = []

    def absolute_error(y_true, y_pred):
        calls.append(1)
        return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)

    model = keras.saving.load_model(
        path, custom_objects={f"{MODULE}:absolute_error": absolute_error})
    model.evaluate(images, labels, verbose=0)
    assert calls and MODULE not in sys.modules
    # Or the caller imports the module, before or after loading.
    model = keras.saving.load_model(path)
    __import__(MODULE)
    assert np.isfinite(model.evaluate(images, labels, verbose=0)[0])
