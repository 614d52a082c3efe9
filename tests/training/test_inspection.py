"""What a run shows of itself: HParams entry, validation images and hierarchy consistency in
TensorBoard, report.png and report.md in its folder."""

import json
import os

import keras
import numpy as np
import pytest
from helpers import TrainFlags
import tensorflow as tf
from PIL import Image

from mtl_keras import data as data_lib
from mtl_keras import config as config_lib
from mtl_keras import tasks as tasks_lib
from mtl_keras.training import inspection

FLAGS = ["--synthetic", "--synthetic_examples=512", "--validation_size=128", "--trunk=simple_cnn",
         "--epochs=2", "--batch_size=64", "--optimizer=adamw", "--learning_rate=0.003"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("inspection") / "run"
    run_flags = TrainFlags()
    try:
        run_flags(["prog", *FLAGS, f"--workdir={workdir}"])
        keras.backend.clear_session(free_memory=False)
        run_flags.main()
    finally:
        TrainFlags().unparse_flags()
    return workdir


def _events(folder):
    for name in sorted(os.listdir(folder)):
        if name.startswith("events.out.tfevents"):
            yield from tf.compat.v1.train.summary_iterator(os.path.join(folder, name))


def test_the_run_is_registered_with_the_hparams_dashboard(finished_run):
    from tensorboard.plugins.hparams import plugin_data_pb2

    sessions = [value for event in _events(finished_run / "tensorboard") for value in event.summary.value
                if value.metadata.plugin_data.plugin_name == "hparams"]
    assert len(sessions) == 1
    data = plugin_data_pb2.HParamsPluginData.FromString(sessions[0].metadata.plugin_data.content)
    hparams = data.session_start_info.hparams
    assert hparams["trunk"].string_value == "simple_cnn"
    assert hparams["epochs"].number_value == 2 and hparams["synthetic"].bool_value is True
    assert hparams["loss_weights"].string_value == ""
    metrics = json.loads((finished_run / "metrics.json").read_text())
    written = {value.tag: float(tf.make_ndarray(value.tensor))
               for event in _events(finished_run / "tensorboard" / "test")
               for value in event.summary.value}
    assert written == pytest.approx({f"test_{head}_{name}": value
                                     for head, values in metrics["heads"].items()
                                     for name, value in values.items()})


def test_validation_images_are_written(finished_run):
    images = {}
    for event in _events(finished_run / "tensorboard" / "validation_images"):
        for value in event.summary.value:
            width, height, png = tf.make_ndarray(value.tensor)
            images[(value.tag, event.step)] = (int(width), int(height), png)
    # After the last epoch (the second; epochs count from 1): a confusion matrix per
    # multiclass head, and the grid.
    assert set(images) == {("confusion_fine", 2), ("confusion_coarse", 2), ("predictions", 2)}
    for width, height, png in images.values():
        assert width >= 400 and height >= 400
        assert tf.image.decode_png(png).shape == (height, width, 4)


def test_hierarchy_consistency_of_the_validation_split_each_epoch(finished_run):
    values = {event.step: float(tf.make_ndarray(value.tensor))
              for event in _events(finished_run / "tensorboard" / "validation")
              for value in event.summary.value if value.tag == "epoch_hierarchy_consistency"}
    assert sorted(values) == [1, 2]
    # The last epoch's value is that of the model saved after it, computed here afresh.
    config = config_lib.Config(**json.loads((finished_run / "config.json").read_text()))
    data = data_lib.load(config)
    outputs = keras.saving.load_model(finished_run / "checkpoints" / "last.keras").predict(
        data.validation.images, verbose=0)
    fine, coarse = outputs["fine"].argmax(1), outputs["coarse"].argmax(1)
    expected = np.mean(data.hierarchy.parents["fine"][fine] == coarse)
    assert values[2] == pytest.approx(expected, abs=1 / len(fine) + 1e-6)


def test_report_png_and_md(finished_run):
    with Image.open(finished_run / "report.png") as picture:
        assert picture.width >= 1000 and picture.height >= 500
        colours = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    assert len(np.unique(colours, axis=0)) > 50  # curves, a matrix and text, not a blank page
    text = (finished_run / "report.md").read_text()
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert f"python -m mtl_keras.run --flagfile={finished_run / 'flags.txt'}" in text
    fine = metrics["heads"]["fine"]
    # 4 significant digits
    assert f"| fine | {fine['accuracy']:#.4g} | {fine['top5_accuracy']:#.4g} |" in text
    assert f"hierarchy_consistency: {metrics['hierarchy_consistency']:#.4g}" in text


@pytest.mark.parametrize("task, prediction, label, known, expected", [
    (tasks_lib.Task("fine", 3, ("cat", "dog", "eel")), np.array([0.1, 0.7, 0.2]), 1, True,
     ("fine: dog 0.70", True)),
    (tasks_lib.Task("fine", 3, ("cat", "dog", "eel")), np.array([0.1, 0.7, 0.2]), 2, True,
     ("fine: dog 0.70 (true: eel)", False)),
    (tasks_lib.Task("fine", 3, ("cat", "dog", "eel")), np.array([0.1, 0.7, 0.2]), 0, False,
     ("fine: dog 0.70", None)),
    (tasks_lib.Task("sex", kind="binary", class_names=("male", "female")), np.array([0.2]),
     np.array([0.0]), True, ("sex: male 0.80", True)),
    (tasks_lib.Task("age", kind="regression"), np.array([31.26]), np.array([30.0]), True,
     ("age: 31.3 (true 30)", None)),
    (tasks_lib.Task("tags", 3, ("a", "b", "c"), kind="multilabel"), np.array([0.9, 0.2, 0.6]),
     np.array([1.0, 0.0, 1.0]), True, ("tags: a, c", True)),
])
def test_captions(task, prediction, label, known, expected):
    assert inspection.caption(task, prediction, label, known) == expected
