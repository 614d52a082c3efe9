"""A user's run on a labelled folder, through the entry point: what it logs and writes is
worked out again here with numpy from its saved models and the labels the test wrote.

The run declares its heads in a --tasks_file (weights 0.5, 2, 1.25; the race classes
found from the data), smooths the race labels, averages ten test views, and trains for
a few deterministic epochs until the heads are far from chance, so that label smoothing
and test-time augmentation change the figures a lot.
"""

import csv
import json

import keras
import numpy as np
import pytest

import expected_figures
import labelled_folder
from helpers import TrainFlags
from helpers import run_main
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras.models import build

# The validation split is one batch: over several, Keras averages the batches' masked
# means weighted by their sizes, not by their known labels (see tests/README.md).
COUNTS = {"train": 120, "validation": 24, "test": 40}
WEIGHTS = {"age": 0.5, "race": 2.0, "gender": 1.25}
SMOOTHING = 0.2
EPOCHS = 12
FLAGS = ["--dataset=folder", "--image_size=8", "--trunk=simple_cnn", f"--epochs={EPOCHS}",
         "--batch_size=24", "--optimizer=adamw", "--learning_rate=0.01", "--weight_decay=0",
         "--schedule=constant", "--warmup_epochs=0", "--noaugment", "--mixed_precision=false",
         "--deterministic", "--checkpoint_minutes=0"]


def _history(workdir):
    with open(workdir / "history.csv", encoding="utf-8") as history:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(history)]


def _predict(path, images):
    return keras.saving.load_model(path, compile=False).predict(images, verbose=0)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    rows = labelled_folder.write(folder, COUNTS)
    (folder / "tasks.json").write_text(json.dumps(
        [{"name": "age", "kind": "regression", "weight": WEIGHTS["age"]},
         {"name": "race", "kind": "multiclass", "weight": WEIGHTS["race"]},
         {"name": "gender", "kind": "binary", "weight": WEIGHTS["gender"]}]))
    workdir = folder / "run"
    TrainFlags().unparse_flags()
    try:
        status = run_main(TrainFlags(), *FLAGS, f"--csv={folder / 'labels.csv'}",
                          f"--tasks_file={folder / 'tasks.json'}", f"--label_smoothing={SMOOTHING}",
                          "--test_flip", "--test_shift=1", f"--workdir={workdir}")
        config = config_lib.Config(**json.loads((workdir / "config.json").read_text()))
    finally:
        TrainFlags().unparse_flags()
    assert status == 0
    by_split = {split: [row for row in rows if row.split == split] for split in COUNTS}
    return {"workdir": workdir, "rows": rows, "by_split": by_split,
            "data": data_lib.load(config), "history": _history(workdir)}


def test_the_heads_of_the_tasks_file_with_classes_found_from_the_data(folder_run):
    model = keras.saving.load_model(folder_run["workdir"] / "model.keras", compile=False)
    heads = model.get_layer(build.DESCRIPTIONS).heads
    assert [(head["name"], head["kind"], head["weight"]) for head in heads] == [
        ("age", "regression", 0.5), ("race", "multiclass", 2.0), ("gender", "binary", 1.25)]
    # The distinct labels of the CSV, in the order of their numbers.
    assert heads[1]["class_names"] == list(labelled_folder.RACES)
    race = folder_run["data"].test.labels["race"]
    values, known = labelled_folder.labels(folder_run["by_split"]["test"], "race")
    np.testing.assert_array_equal(race[known], values[known])


def test_validation_figures_of_the_last_epoch(folder_run):
    """model.keras is the model of the last epoch, which that epoch's validation scored."""
    rows, last = folder_run["by_split"]["validation"], folder_run["history"][-1]
    outputs = _predict(folder_run["workdir"] / "model.keras", folder_run["data"].validation.images)
    std = expected_figures.target_std(folder_run["rows"])
    expected = expected_figures.head_figures(outputs, rows, std, label_smoothing=SMOOTHING)
    expected_figures.check(last, expected, prefix="val_")
    assert last["val_loss"] == pytest.approx(expected_figures.total_loss(expected, WEIGHTS),
                                             rel=1e-4)
    # Far from chance, so that smoothing changes the loss a lot: without it the race
    # loss would be much lower.
    assert expected["race_accuracy"] > 0.6 and expected["gender_accuracy"] > 0.8
    plain = expected_figures.head_figures(outputs, rows, std)["race_loss"]
    assert expected["race_loss"] - plain > 0.2


def test_best_checkpoint_is_the_epoch_of_least_validation_mae(folder_run):
    """The first head is a regression head: best.keras is the epoch of the lowest
    validation MAE. On this (deterministic) run that is neither the first nor the last
    epoch, nor the highest MAE, so a wrong direction or 'always save' shows."""
    scores = [row["val_age_mae"] for row in folder_run["history"]]
    best = int(np.argmin(scores))
    assert len(scores) == EPOCHS and 0 < best < len(scores) - 1, (
        f"the example needs its best epoch in the middle, not at {best} of {scores}: if a new "
        f"TensorFlow moved it, choose another --epochs or --seed")
    rows, images = folder_run["by_split"]["validation"], folder_run["data"].validation.images
    ages, known = labelled_folder.labels(rows, "age")
    for name, epoch in (("best.keras", best), ("last.keras", len(scores) - 1)):
        predicted = _predict(folder_run["workdir"] / "checkpoints" / name, images)["age"][:, 0]
        assert np.mean(np.abs(ages - predicted)[known]) == pytest.approx(scores[epoch], rel=1e-4)


def _views(images):
    """The ten test views by hand: the image, moved one pixel up, down, left, right (the
    border zero), and the mirror images of those five."""
    padded = np.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    size = images.shape[1]
    moved = [padded[:, 1 + rows:1 + rows + size, 1 + columns:1 + columns + size]
             for rows, columns in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    views = [images, *moved]
    return views + [view[:, :, ::-1] for view in views]


def _auc_by_pairs(scores, truth):
    positives, negatives = scores[truth], scores[~truth]
    wins = (positives[:, None] > negatives[None, :]) + 0.5 * (positives[:, None] == negatives[None, :])
    return float(np.mean(wins))


def test_metrics_json_is_the_average_of_ten_views(folder_run):
    workdir, rows = folder_run["workdir"], folder_run["by_split"]["test"]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["test_views"] == 10
    model = keras.saving.load_model(workdir / "model.keras", compile=False)
    predictions = [model.predict(view, verbose=0) for view in _views(folder_run["data"].test.images)]
    averaged = {head: np.mean([p[head] for p in predictions], axis=0) for head in predictions[0]}
    for key, outputs in (("heads", averaged), ("heads_single_view", predictions[0])):
        ages, known = labelled_folder.labels(rows, "age")
        errors = (ages - outputs["age"][:, 0])[known]
        assert metrics[key]["age"] == pytest.approx(
            {"mae": np.mean(np.abs(errors)), "rmse": np.sqrt(np.mean(np.square(errors))),
             "examples": int(known.sum())}, rel=1e-4)
        race, known = labelled_folder.labels(rows, "race")
        probabilities, race = outputs["race"][known], race[known].astype(int)
        beaten_by = np.sum(probabilities > probabilities[np.arange(len(race)), race][:, None], 1)
        assert metrics[key]["race"] == pytest.approx(
            {"accuracy": np.mean(probabilities.argmax(1) == race),
             "top5_accuracy": np.mean(beaten_by < 5), "examples": int(known.sum())})
        gender, known = labelled_folder.labels(rows, "gender")
        scores = outputs["gender"][:, 0][known]
        assert metrics[key]["gender"] == pytest.approx(
            {"accuracy": np.mean((scores > 0.5) == (gender[known] > 0.5)),
             "auc": _auc_by_pairs(scores, gender[known] > 0.5), "examples": int(known.sum())})
    # The views change the figures: averaging them is not the plain image's answer.
    assert abs(metrics["heads"]["age"]["mae"] / metrics["heads_single_view"]["age"]["mae"] - 1) > 0.01


def test_gif_bmp_and_png_images_are_decoded_to_their_pixels(folder_run):
    data, rows = folder_run["data"], folder_run["by_split"]
    formats = set()
    for split_name, split in (("train", data.train), ("validation", data.validation),
                              ("test", data.test)):
        for row, image in zip(rows[split_name], split.images):
            if row.pixels is not None:  # PNG, BMP, GIF: lossless (JPEG is not)
                np.testing.assert_array_equal(image, row.pixels, err_msg=row.image)
                formats.add(row.image.rsplit(".", 1)[1])
    assert formats == {"png", "bmp", "gif"}


def test_without_validation_no_best_checkpoint_and_no_validation_logs(tmp_path, run_flags):
    labelled_folder.write(tmp_path, {"train": 48, "test": 16}, split_column=False)
    workdir = tmp_path / "run"
    assert run_main(run_flags, *FLAGS[:3], "--epochs=2", *FLAGS[4:], f"--csv={tmp_path / 'labels.csv'}",
                    f"--tasks={labelled_folder.TASKS}", "--validation_size=0",
                    f"--workdir={workdir}") == 0
    history = _history(workdir)
    assert len(history) == 2 and history[0]["loss"] > 0
    assert not [column for column in history[0] if column.startswith("val_")]
    assert not (workdir / "checkpoints" / "best.keras").exists()
    tensorboard = {path.name for path in (workdir / "tensorboard").iterdir()}
    assert "train" in tensorboard and not {"validation", "validation_images"} & tensorboard
    # last.keras is the final model.
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    last = _predict(workdir / "checkpoints" / "last.keras", images)
    final = _predict(workdir / "model.keras", images)
    for head in labelled_folder.HEADS:
        np.testing.assert_array_equal(last[head], final[head])
    config = config_lib.Config(**json.loads((workdir / "config.json").read_text()))
    data = data_lib.load(config)
    assert data.validation is None and len(data.train) + len(data.test) == 64
