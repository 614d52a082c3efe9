"""--dataset=folder and --dataset=utkface: every head kind, missing labels, custom losses,
original units, and one clear error per malformed input."""

import json
import os
import re

import keras
import numpy as np
import pytest

import custom_losses
import faces_data
from helpers import TrainFlags
from helpers import error_lines, run_main
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras.data import pipeline
from mtl_keras.models import build  # noqa: F401  (registers the custom layers for loading)
from mtl_keras.training import preparation
from mtl_keras.training import train

TASKS = "age:regression,gender:binary,race:multiclass:" + "|".join(faces_data.RACES) + \
    ",tags:multilabel:" + "|".join(faces_data.TAGS)
TRAINING = ["--trunk=simple_cnn", "--optimizer=adamw", "--learning_rate=0.003", "--weight_decay=0",
            "--schedule=constant", "--warmup_epochs=0", "--batch_size=32", "--validation_size=32",
            "--image_size=16", "--noaugment"]


def _run(run_flags, *flags):
    """Runs the entry point; returns its exit status (0 when it returned normally)."""
    return run_main(run_flags, *flags)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """One run of every head kind on a CSV folder, a seventh of the ages missing."""
    folder = tmp_path_factory.mktemp("faces")
    faces_data.write_csv_folder(folder, count=320, missing_age_every=7)
    workdir = folder / "run"
    TrainFlags().unparse_flags()
    try:
        status = _run(TrainFlags(), f"--csv={folder / 'labels.csv'}",
                      f"--tasks={TASKS}", "--dataset=folder", "--epochs=12",
                      "--losses=age=custom_losses:doubled_mae", f"--workdir={workdir}", *TRAINING)
    finally:
        TrainFlags().unparse_flags()
    assert status == 0
    return folder, workdir


def test_every_kind_trains_and_reports(folder_run):
    _, workdir = folder_run
    metrics = json.loads((workdir / "metrics.json").read_text())
    heads = metrics["heads"]
    assert set(heads["age"]) == {"mae", "rmse", "examples"}
    assert set(heads["gender"]) == {"accuracy", "auc", "examples"}
    assert set(heads["race"]) == {"accuracy", "examples"}
    assert set(heads["tags"]) == {"accuracy", "auc", "exact_match", "examples"}
    # The labels are painted into the pixels: every head learns far above chance.
    assert heads["gender"]["accuracy"] > 0.9 and heads["gender"]["auc"] > 0.95
    assert heads["race"]["accuracy"] > 0.6  # chance: 0.2
    assert heads["tags"]["accuracy"] > 0.8  # chance: 0.5
    assert heads["age"]["mae"] < 10  # ages 20-79: predicting the mean gives about 15
    assert heads["age"]["examples"] < heads["gender"]["examples"]  # missing ages not scored
    header = (workdir / "history.csv").read_text().splitlines()[0].split(",")
    for column in ("age_mae", "age_rmse", "gender_auc", "race_accuracy", "tags_accuracy",
                   "val_age_mae", "val_tags_auc"):
        assert column in header
    assert (workdir / "checkpoints" / "best.keras").exists()  # picked by val_age_mae


def test_custom_loss_by_import_path_is_used(folder_run):
    del folder_run
    traced = [(true[1:], pred[1:]) for eager, true, pred in custom_losses.CALLS if not eager]
    assert traced  # traced into the training step
    # prepare() tried it first, eagerly, on a batch shaped as the training step gives it.
    probed = [(true[1:], pred[1:]) for eager, true, pred in custom_losses.CALLS if eager]
    assert probed and set(probed) == set(traced)
    config = config_lib.Config(losses={"age": "custom_losses:no_such_function"})
    with pytest.raises(errors.UserError, match="cannot be imported"):
        from mtl_keras.training import compile as compile_lib
        from mtl_keras import tasks
        compile_lib.override_losses((tasks.Task("age", kind="regression"),), config.losses)


def test_regression_predictions_are_in_original_units(folder_run):
    folder, workdir = folder_run
    model = keras.saving.load_model(workdir / "model.keras", compile=False)
    rows = [row for row in faces_data.write_csv_folder(folder / "again", count=40, seed=5)]
    data = data_lib.load(config_lib.Config(dataset="folder", csv=str(folder / "again" / "labels.csv"),
                                           tasks=TASKS, image_size=16, validation_size=0,
                                           test_fraction=0.5))
    predicted = model.predict(data.test.images, verbose=0)["age"][:, 0]
    truth = data.test.labels["age"][:, 0]
    assert 20 <= truth.mean() <= 80 and abs(predicted.mean() - truth.mean()) < 10
    assert np.corrcoef(predicted, truth)[0, 1] > 0.8
    assert len(rows) == 40


def test_missing_labels_are_masked_not_dropped(tmp_path):
    faces_data.write_csv_folder(tmp_path, count=60, missing_age_every=3)
    config = config_lib.Config(dataset="folder", csv=str(tmp_path / "labels.csv"), tasks=TASKS,
                               image_size=16, validation_size=0, test_fraction=0.25, batch_size=8,
                               trunk="simple_cnn")
    data = data_lib.load(config)
    assert len(data.train) + len(data.test) == 60  # every row kept
    train_mask = data.train.masks["age"]
    assert 0 < train_mask.sum() < len(train_mask)
    assert np.all(data.train.masks["gender"] == 1)
    age = next(task for task in data.tasks if task.name == "age")
    known = data.train.labels["age"][train_mask > 0, 0]
    assert age.target_mean == pytest.approx(known.mean(), rel=1e-5)  # placeholders not counted
    _, labels, masks = next(iter(pipeline.make_dataset(data.train, 8, training=False)))
    assert set(masks) == {"age", "gender", "race", "tags"}
    # With every age masked, the age loss is exactly 0 while the other heads still learn.
    experiment = preparation.prepare(config, str(tmp_path / "never"))
    model, _ = train.build_and_compile(experiment)
    all_masked = {**masks, "age": np.zeros_like(masks["age"])}
    images = data.train.images[:8]
    result = model.evaluate(images, labels, sample_weight=all_masked, verbose=0, return_dict=True)
    assert result["age_loss"] == 0.0 and result["gender_loss"] > 0.0


def test_utkface_file_names(tmp_path):
    names = faces_data.write_utkface_folder(tmp_path / "UTKFace", count=50)
    data = data_lib.load(config_lib.Config(dataset="utkface", image_dir=str(tmp_path / "UTKFace"),
                                           image_size=16, validation_size=0, test_fraction=0.3))
    assert [task.name for task in data.tasks] == ["age", "gender", "race"]
    assert [task.kind for task in data.tasks] == ["regression", "binary", "multiclass"]
    gender = data.tasks[1]
    assert gender.class_names == ("male", "female")
    assert len(data.train) + len(data.test) == len(names)
    all_race_masks = np.concatenate([data.train.masks["race"], data.test.masks["race"]])
    assert int((all_race_masks == 0).sum()) == sum(race is None for *_, race in names)
    ages = sorted(np.concatenate([data.train.labels["age"], data.test.labels["age"]])[:, 0])
    assert ages == sorted(float(age) for _, age, _, _ in names)
    (tmp_path / "UTKFace" / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(errors.UserError, match="holiday.jpg: the name does not follow"):
        data_lib.load(config_lib.Config(dataset="utkface", image_dir=str(tmp_path / "UTKFace")))


@pytest.mark.parametrize("case,tasks,expected", [
    ("missing_image", TASKS, r"labels.csv:3: image .*img/nowhere.png does not exist"),
    ("unreadable_image", TASKS, r"labels.csv:4: image .*broken.png cannot be read"),
    ("unknown_class", TASKS, r"labels.csv:5: label 'Martian' of head 'race' is not one of its classes"),
    ("non_numeric", TASKS, r"labels.csv:2: regression target 'old' is not a number"),
    ("unknown_column", "age:regression,height:regression", r"column 'height' is not in the header"),
    ("declared_twice", "age:regression,age:binary", r"declares the head 'age' twice"),
    ("unknown_tag", TASKS, r"labels.csv:2: label 'cape' of head 'tags'"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(run_flags, tmp_path, capsys, case, tasks,
                                                      expected):
    rows = faces_data.write_csv_folder(tmp_path, count=8)
    if case == "missing_image":
        rows[1]["image"] = "img/nowhere.png"
    elif case == "unreadable_image":
        (tmp_path / "img" / "broken.png").write_bytes(b"not an image at all")
        rows[2]["image"] = "img/broken.png"
    elif case == "unknown_class":
        rows[3]["race"] = "Martian"
    elif case == "non_numeric":
        rows[0]["age"] = "old"
    elif case == "unknown_tag":
        rows[0]["tags"] = "hat;cape"
    faces_data.write_rows(tmp_path / "labels.csv", rows)
    workdir = tmp_path / "w"
    status = _run(run_flags, "--dataset=folder", f"--csv={tmp_path / 'labels.csv'}",
                  f"--tasks={tasks}", f"--workdir={workdir}", *TRAINING, "--validation_size=0")
    assert status == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert re.search(expected, lines[0]), lines[0]
    assert not workdir.exists()
    assert not os.path.exists(tmp_path / "runs")


def test_validation_images_of_every_classifying_head(folder_run):
    import tensorflow as tf

    _, workdir = folder_run
    folder = workdir / "tensorboard" / "validation_images"
    tags = {value.tag for name in os.listdir(folder)
            for event in tf.compat.v1.train.summary_iterator(str(folder / name))
            for value in event.summary.value}
    # A confusion matrix for the multiclass and the binary head; none for regression or
    # multilabel heads, which the captioned grid covers.
    assert tags == {"confusion_race", "confusion_gender", "predictions"}
