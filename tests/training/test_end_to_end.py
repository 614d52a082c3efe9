"""One tiny smoke run through the entry point, in process: every output is written."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras import data as data_lib

from helpers import TrainFlags
from helpers import SMOKE_FLAGS

TINY = ["--synthetic_examples=512", "--validation_size=128", "--epochs=2", "--batch_size=64",
        "--test_flip", "--test_shift=1"]


def _scalar_tags(folder):
    files = [os.path.join(folder, name) for name in os.listdir(folder)
             if name.startswith("events.out.tfevents")]
    assert files, f"no event file in {folder}"
    tags = set()
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def _snapshot(folder):
    return {os.path.relpath(os.path.join(root, name), folder):
            (os.stat(os.path.join(root, name)).st_mtime_ns, os.stat(os.path.join(root, name)).st_size)
            for root, _, names in os.walk(folder) for name in names}


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Runs the smoke experiment once (tiny) and returns its workdir and config."""
    workdir = tmp_path_factory.mktemp("smoke") / "run"
    run_flags = TrainFlags()
    try:
        run_flags(["prog", f"--flagfile={SMOKE_FLAGS}", *TINY, f"--workdir={workdir}"])
        config = run_flags.config()
        keras.backend.clear_session(free_memory=False)
        run_flags.main()
    finally:
        TrainFlags().unparse_flags()
    return workdir, config


def test_every_output_exists(smoke_run):
    workdir, _ = smoke_run
    for name in ("flags.txt", "config.json", "history.csv", "model.keras", "metrics.json",
                 "checkpoints/best.keras", "checkpoints/last.keras"):
        assert (workdir / name).is_file(), name
        assert (workdir / name).stat().st_size > 0, name


def test_config_json_and_flags_txt(smoke_run):
    workdir, config = smoke_run
    written = json.loads((workdir / "config.json").read_text())
    # config.json holds the resolved configuration: the smoke flags set every setting the
    # size rule chooses but the batch-norm momentum, here 1 - 1/6 (384 training images at
    # batch 64); flags.txt keeps "chosen" (0), so that a rerun chooses again.
    assert written == {**config.to_dict(), "batch_norm_momentum": 0.8333, "workdir": str(workdir)}
    assert config.batch_norm_momentum == 0 and "--batch_norm_momentum=0.0" in (
        workdir / "flags.txt").read_text().splitlines()
    assert written["synthetic"] is True and written["epochs"] == 2
    assert written["loss_weights"] == {"fine": 1.0, "coarse": 0.5}
    flag_lines = (workdir / "flags.txt").read_text().splitlines()
    assert "--synthetic_examples=512" in flag_lines and "--synthetic" in flag_lines
    assert not [line for line in flag_lines if line.startswith("--workdir")]


def test_history_csv_has_per_head_columns(smoke_run):
    workdir, _ = smoke_run
    with open(workdir / "history.csv", newline="") as history_file:
        rows = list(csv.DictReader(history_file))
    assert [row["epoch"] for row in rows] == ["1", "2"]  # counted as the logs count them
    columns = set(rows[0])
    assert {"epoch", "loss", "fine_loss", "fine_accuracy", "fine_top5_accuracy", "coarse_loss",
            "coarse_accuracy", "val_fine_accuracy", "val_fine_loss", "val_coarse_accuracy",
            "learning_rate", "epoch_seconds"} <= columns
    for row in rows:
        for column in ("fine_accuracy", "coarse_accuracy", "val_fine_accuracy",
                       "fine_top5_accuracy"):
            assert 0.0 <= float(row[column]) <= 1.0
        assert 0.0 < float(row["epoch_seconds"]) < 600.0
        # The total loss is the weighted sum of the head losses (fine 1.0, coarse 0.5).
        assert float(row["loss"]) == pytest.approx(
            float(row["fine_loss"]) + 0.5 * float(row["coarse_loss"]), rel=1e-3)
    # The learning rate at the end of each epoch: 384 images / 64 = 6 steps per epoch, 12 in
    # all, warm-up 0.5 epochs = 3 steps, peak 0.002. After step 6 the cosine is a third of the
    # way down: 0.5 * 0.002 * (1 + cos(pi / 3)) = 0.0015; after step 12 it reached 0.
    assert [float(row["learning_rate"]) for row in rows] == pytest.approx([0.0015, 0.0], abs=1e-7)


def test_tensorboard_has_per_head_scalars(smoke_run):
    workdir, _ = smoke_run
    train = _scalar_tags(workdir / "tensorboard" / "train")
    validation = _scalar_tags(workdir / "tensorboard" / "validation")
    assert {"epoch_loss", "epoch_fine_loss", "epoch_fine_accuracy", "epoch_fine_top5_accuracy",
            "epoch_coarse_loss", "epoch_coarse_accuracy", "epoch_learning_rate",
            "epoch_epoch_seconds"} <= train
    assert {"epoch_loss", "epoch_fine_loss", "epoch_fine_accuracy", "epoch_coarse_loss",
            "epoch_coarse_accuracy"} <= validation


def _check_phases(metrics, workdir):
    """Every phase happened, took time, and the sums are their parts' (each rounded to 0.01)."""
    phases = metrics["phases"]
    parts = ("start_up", "data", "build", "first_step", "training", "after_training")
    assert set(phases) == {*parts, "to_first_step", "overhead", "total"}
    assert all(phases[part] > 0 for part in parts[1:])
    assert phases["start_up"] >= 0  # 0 when an earlier test trained in this process
    assert phases["to_first_step"] == pytest.approx(sum(phases[part] for part in parts[:4]),
                                                    abs=0.05)
    assert phases["overhead"] == pytest.approx(phases["to_first_step"] + phases["after_training"],
                                               abs=0.05)
    assert phases["total"] == pytest.approx(sum(phases[part] for part in parts), abs=0.05)
    # wall_seconds runs from the build to the test metrics, inside these phases.
    assert phases["build"] + phases["first_step"] + phases["training"] < metrics["wall_seconds"]
    assert metrics["wall_seconds"] < phases["total"]
    with open(workdir / "history.csv", encoding="utf-8", newline="") as history:
        last_epoch = float(list(csv.DictReader(history))[-1]["epoch_seconds"])
    assert phases["training"] >= last_epoch - 0.05  # the epochs after the first step's


def test_metrics_json(smoke_run):
    workdir, config = smoke_run
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert set(metrics) == {"dataset", "synthetic", "heads", "hierarchy_consistency",
                            "coarse_from_fine_accuracy", "test_flip", "test_shift", "test_views",
                            "heads_single_view", "epochs", "epochs_trained", "wall_seconds",
                            "phases"}
    assert metrics["test_flip"] is True and metrics["test_shift"] == 1
    assert metrics["test_views"] == 10
    assert metrics["dataset"] == "cifar100" and metrics["synthetic"] is True
    assert metrics["epochs"] == metrics["epochs_trained"] == 2 and metrics["wall_seconds"] > 0
    assert set(metrics["heads"]) == {"fine", "coarse"}
    assert set(metrics["heads"]["fine"]) == {"accuracy", "top5_accuracy"}
    assert set(metrics["heads"]["coarse"]) == {"accuracy"}
    _check_phases(metrics, workdir)
    values = [*metrics["heads"]["fine"].values(), *metrics["heads"]["coarse"].values(),
              metrics["hierarchy_consistency"], metrics["coarse_from_fine_accuracy"]]
    assert all(0.0 <= value <= 1.0 for value in values)
    assert metrics["heads"]["fine"]["top5_accuracy"] >= metrics["heads"]["fine"]["accuracy"]

    # The figures are those of model.keras on the test split: with --test_flip and
    # --test_shift=1, of the average of its predictions for each image moved by one pixel
    # each way (and not), and the mirror images of those five; heads_single_view, of the image.
    model = keras.saving.load_model(str(workdir / "model.keras"))
    data = data_lib.load(config)
    images = data.test.images
    padded = np.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    moved = [padded[:, 1 + rows:33 + rows, 1 + columns:33 + columns]
             for rows, columns in ((-1, 0), (1, 0), (0, -1), (0, 1))]
    views = [images, *moved]
    views += [view[:, :, ::-1] for view in views]
    predictions = [model.predict(view, verbose=0) for view in views]
    plain = predictions[0]
    probabilities = {name: np.mean([p[name] for p in predictions], axis=0) for name in plain}
    assert probabilities["fine"].shape == (128, 100) and probabilities["coarse"].shape == (128, 20)
    one_example = 1 / len(data.test) + 1e-9
    for key, outputs in (("heads", probabilities), ("heads_single_view", plain)):
        expected = _figures_by_hand(outputs, data.test.labels, data.hierarchy.parents["fine"])
        for head, values in expected["heads"].items():
            assert metrics[key][head] == pytest.approx(values, abs=one_example)
        if key == "heads":  # the hierarchy figures are those of the averaged views
            for name in ("hierarchy_consistency", "coarse_from_fine_accuracy"):
                assert metrics[name] == pytest.approx(expected[name], abs=one_example)
    # A near-chance model: tests/training/test_folder_run_figures.py checks the views' average on
    # a trained one, to the last digit.


def _figures_by_hand(outputs, labels, parents):
    """metrics.json's figures of two heads, fine and coarse, with numpy."""
    fine, coarse = outputs["fine"].argmax(1), outputs["coarse"].argmax(1)
    label_probability = outputs["fine"][np.arange(len(fine)), labels["fine"]]
    beaten_by = np.sum(outputs["fine"] > label_probability[:, None], axis=1)
    return {"heads": {"fine": {"accuracy": np.mean(fine == labels["fine"]),
                               "top5_accuracy": np.mean(beaten_by < 5)},
                      "coarse": {"accuracy": np.mean(coarse == labels["coarse"])}},
            "hierarchy_consistency": np.mean(parents[fine] == coarse),
            "coarse_from_fine_accuracy": np.mean(parents[fine] == labels["coarse"])}


def test_checkpoints_reload(smoke_run):
    workdir, _ = smoke_run
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    for name in ("checkpoints/best.keras", "checkpoints/last.keras"):
        outputs = keras.saving.load_model(str(workdir / name)).predict(images, verbose=0)
        assert outputs["fine"].shape == (2, 100) and outputs["coarse"].shape == (2, 20)


def test_a_finished_run_is_refused(smoke_run, run_flags, capsys):
    workdir, _ = smoke_run
    before = _snapshot(workdir)
    run_flags(["prog", f"--flagfile={SMOKE_FLAGS}", *TINY, f"--workdir={workdir}"])
    with pytest.raises(SystemExit) as exit_info:
        run_flags.main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"error: --workdir={workdir} holds a finished run; pass a new --workdir or remove that one.\n")
    assert _snapshot(workdir) == before
