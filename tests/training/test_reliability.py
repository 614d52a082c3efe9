"""Divergence stops with exit 3 naming the head; locks, refused workdirs, atomic and strict
outputs; a single head keeps its name in every log; best.keras is the best epoch."""

import contextlib
import csv
import io
import json
import os
import signal

import keras
import numpy as np
import pytest

import mtl_keras
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import fileio
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.training import callbacks as callbacks_lib
from mtl_keras.training import run_state

from helpers import TrainFlags, error_lines, register_for_test, run_main

TINY = ["--synthetic", "--synthetic_examples=384", "--validation_size=64", "--trunk=simple_cnn",
        "--batch_size=32", "--epochs=2", "--checkpoint_minutes=1e-9"]


def _main(run_flags, *flags):
    """Runs the entry point in this process on the tiny run and `flags`; returns its exit
    status. Flags of an earlier call do not carry over."""
    run_flags.unparse_flags()
    return run_main(run_flags, *TINY, *flags)


def _no_result(workdir):
    return not (workdir / "metrics.json").exists() and not (workdir / "model.keras").exists()


# --------------------------------------------------------------------------- divergence

@pytest.fixture(scope="module")
def nan_run(tmp_path_factory):
    """A run whose coarse head's loss is NaN from the first step: (its workdir, its exit
    status, what it wrote to stderr). The folder it leaves is an unfinished run."""
    workdir = tmp_path_factory.mktemp("nan") / "run"
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            status = _main(TrainFlags(), "--losses=coarse=custom_losses:always_nan",
                           f"--workdir={workdir}")
    finally:
        TrainFlags().unparse_flags()
    return workdir, status, stderr.getvalue()


def test_a_nan_head_stops_the_run_at_once_naming_it(nan_run):
    workdir, status, stderr = nan_run
    assert status == 3
    lines = error_lines(stderr)
    assert lines == [
        "error: the training loss of head coarse (nan) became non-finite at epoch 1, step 1 of "
        "10; no state was saved before that; lower --learning_rate and pass a new --workdir, or "
        "look at that head's labels and loss."]
    assert _no_result(workdir)


def _diverging_run(run_flags, capsys, workdir, learning_rate):
    """Trains at a constant `learning_rate` that makes the losses explode; checks that the
    run stopped with exit status 3, one error line and no result; returns the line."""
    status = _main(run_flags, f"--learning_rate={learning_rate}", "--schedule=constant",
                   "--warmup_epochs=0", f"--workdir={workdir}")
    assert status == 3
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith("error: the training loss of head")
    assert _no_result(workdir)
    return line


def test_an_exploding_learning_rate_stops_with_the_last_good_state(run_flags, tmp_path, capsys):
    workdir = tmp_path / "run"
    line = _diverging_run(run_flags, capsys, workdir, 1e9)
    assert " became non-finite at epoch 1, step " in line
    assert f"the last good state, at epoch 1, step " in line
    assert f"is saved in {workdir / 'checkpoints'};" in line
    progress, _ = run_state.load(workdir)
    assert progress.epoch == 0 and progress.step >= 1  # the steps before the NaN, saved
    with np.load(workdir / "checkpoints" / f"state-{progress.global_step}.npz") as values:
        assert all(np.isfinite(values[name]).all() for name in values.files
                   if values[name].dtype.kind == "f")


def test_a_loss_grown_a_millionfold_stops_the_run_though_finite(run_flags, tmp_path, capsys):
    line = _diverging_run(run_flags, capsys, tmp_path / "run", 100)
    assert " grew past --max_loss_growth=1e+06 times its first value at epoch 1, step " in line
    assert line.endswith("lower --learning_rate and pass a new --workdir, or raise "
                         "--max_loss_growth (0: no limit).")


def test_loss_growth_is_measured_per_head_from_its_first_positive_value():
    def grown(divergence, logs):
        found = divergence.find(logs)
        assert found is None or found[1] == "raise --max_loss_growth (0: no limit)"
        return found and found[0]

    divergence = callbacks_lib.Divergence(["fine", "coarse"], max_growth=100.0)
    assert grown(divergence, {"fine_loss": 0.0, "coarse_loss": 2.0}) is None  # fine: no value yet
    assert grown(divergence, {"fine_loss": 3.0, "coarse_loss": 150.0}) is None
    assert divergence.first == {"fine": 3.0, "coarse": 2.0}
    assert grown(divergence, {"fine_loss": 301.0, "coarse_loss": 199.0}) == (
        "the training loss of head fine (301, first 3) grew past --max_loss_growth=100 times "
        "its first value")
    assert grown(divergence, {"fine_loss": 302.0, "coarse_loss": 201.0}) == (
        "the training loss of heads fine (302, first 3), coarse (201, first 2) grew past "
        "--max_loss_growth=100 times its first value")
    single = callbacks_lib.Divergence(["fine"], max_growth=10.0)  # the total loss when no head's is logged
    assert grown(single, {"loss": 1.0}) is None
    assert grown(single, {"loss": 11.0}).startswith("the training loss of head fine (11, first 1)")
    off = callbacks_lib.Divergence(["fine"], max_growth=0.0)
    assert grown(off, {"fine_loss": 1.0}) is None and grown(off, {"fine_loss": 1e30}) is None


def test_a_non_finite_loss_is_found_before_growth_and_names_its_heads():
    divergence = callbacks_lib.Divergence(["fine", "coarse"], max_growth=10.0)
    assert divergence.find({"fine_loss": 1.0, "coarse_loss": 1.0, "loss": 2.0}) is None
    assert divergence.find({"fine_loss": 1e3, "coarse_loss": float("nan"), "loss": 1e3}) == (
        "the training loss of head coarse (nan) became non-finite",
        "look at that head's labels and loss")
    # Only the total overflowed: every head is named, with its own loss.
    assert divergence.find({"fine_loss": 2.0, "coarse_loss": 3.0, "loss": float("inf")})[0] == (
        "the training loss of heads fine (2), coarse (3) became non-finite")


@pytest.mark.parametrize("value", ["1", "0.5", "-3", "inf"])
def test_a_loss_growth_limit_of_at_most_one_is_refused(run_flags, tmp_path, capsys, value):
    workdir = tmp_path / "run"
    assert _main(run_flags, f"--max_loss_growth={value}", f"--workdir={workdir}") == 2
    assert error_lines(capsys.readouterr().err) == [
        f"error: --max_loss_growth must be a finite number above 1 (or 0: no limit), not "
        f"{float(value)}."]
    assert not workdir.exists()


# --------------------------------------------------------------------------- folders

def test_a_locked_workdir_is_refused_at_once(run_flags, tmp_path, capsys):
    workdir = tmp_path / "run"
    lock = fileio.WorkdirLock(workdir)
    lock.acquire()  # as another process writing into it would
    try:
        assert _main(run_flags, f"--workdir={workdir}") == 2
    finally:
        lock.release()
    assert capsys.readouterr().err == (
        f"error: another process is writing into --workdir={workdir}; wait for it to end, or "
        f"pass a new --workdir.\n")
    assert os.listdir(workdir) == [".lock"]


def test_an_unfinished_run_of_another_command_is_refused(nan_run, run_flags, capsys):
    workdir, status, _ = nan_run
    assert status == 3
    before = sorted(os.listdir(workdir))
    assert _main(run_flags, "--epochs=3", f"--workdir={workdir}") == 2
    assert capsys.readouterr().err == (
        f"error: --workdir={workdir} holds an unfinished run of another command, which differs "
        f"in --epochs (was 2, now 3), --losses (was {{'coarse': 'custom_losses:always_nan'}}, "
        f"now {{}}); rerun it with --flagfile={workdir / 'flags.txt'} --workdir={workdir} to "
        f"resume it, or pass a new --workdir.\n")
    assert sorted(os.listdir(workdir)) == before


@pytest.mark.parametrize("make, message", [
    (lambda path: path.mkdir() or (path / "notes.txt").write_text("mine"),
     "error: --workdir={path} already holds files that are not a run; pass a new --workdir or "
     "remove that one."),
    (lambda path: path.write_text("a file"),
     "error: --workdir={path} is a file, not a folder; pass a folder."),
])
def test_workdirs_that_cannot_hold_a_run_are_refused(run_flags, tmp_path, capsys, make, message):
    path = tmp_path / "run"
    make(path)
    assert _main(run_flags, f"--workdir={path}") == 2
    assert capsys.readouterr().err == message.format(path=path) + "\n"


def test_a_workdir_under_a_file_is_refused(run_flags, tmp_path, capsys):
    (tmp_path / "file").write_text("a file")
    path = tmp_path / "file" / "run"
    assert _main(run_flags, f"--workdir={path}") == 2
    assert capsys.readouterr().err == (
        f"error: --workdir={path} lies under the file {tmp_path / 'file'}; pass a folder.\n")


# --------------------------------------------------------------------------- atomic, strict

def test_an_interrupted_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "metrics.json"
    fileio.write_json(path, {"accuracy": 0.5})
    with pytest.raises(KeyboardInterrupt):
        with fileio.atomic_path(path) as temporary:
            with open(temporary, "w", encoding="utf-8") as half:
                half.write('{"accur')
            raise KeyboardInterrupt
    assert json.loads(path.read_text()) == {"accuracy": 0.5}
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_an_interrupted_model_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "last.keras"
    fileio.save_model(model, path)
    expected = [weights.copy() for weights in model.get_weights()]
    model.set_weights([weights + 1 for weights in expected])

    def killed_half_way(filepath, **kwargs):
        with open(filepath, "wb") as half:
            half.write(b"PK\x03\x04")
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save", killed_half_way)
    with pytest.raises(KeyboardInterrupt):
        fileio.save_model(model, path)
    for loaded, weights in zip(keras.saving.load_model(path).get_weights(), expected):
        np.testing.assert_array_equal(loaded, weights)
    assert os.listdir(tmp_path) == ["last.keras"]


def test_json_outputs_are_strict():
    value = {"auc": float("nan"), "heads": [float("inf"), 1.5, -float("inf")], "n": 3}
    assert fileio.strict(value) == {"auc": None, "heads": [None, 1.5, None], "n": 3}


# --------------------------------------------------------------------------- head names

def _rows(workdir):
    with open(workdir / "history.csv", encoding="utf-8") as history:
        return list(csv.DictReader(history))


def _validation_accuracy(path, data, head):
    probabilities = keras.saving.load_model(path).predict(data.validation.images, verbose=0)
    return float(np.mean(probabilities[head].argmax(-1) == data.validation.labels[head]))


def test_a_single_head_keeps_its_name_and_best_keras_is_its_best_epoch(run_flags, tmp_path):
    workdir = tmp_path / "run"
    assert _main(run_flags, "--heads=fine", "--epochs=3", "--optimizer=adamw",
                 "--learning_rate=0.003", f"--workdir={workdir}") == 0
    rows = _rows(workdir)
    assert {"loss", "fine_loss", "fine_accuracy", "fine_top5_accuracy", "val_loss",
            "val_fine_loss", "val_fine_accuracy", "val_fine_top5_accuracy"} <= set(rows[0])
    assert not {"accuracy", "val_accuracy", "top5_accuracy"} & set(rows[0])
    config = config_lib.Config(**{**json.loads((workdir / "config.json").read_text())})
    data = data_lib.load(config)
    scores = [float(row["val_fine_accuracy"]) for row in rows]
    # The best checkpoint scores the best epoch's validation accuracy, the last the last's.
    tolerance = 1 / len(data.validation) + 1e-9
    assert _validation_accuracy(workdir / "checkpoints" / "best.keras", data, "fine") == \
        pytest.approx(max(scores), abs=tolerance)
    assert _validation_accuracy(workdir / "checkpoints" / "last.keras", data, "fine") == \
        pytest.approx(scores[-1], abs=tolerance)


def _ages(count, known, seed):
    """8×8 images whose red channel tells an age, and a mask of 1 at the rows `known`."""
    rng = np.random.default_rng(seed)
    ages = rng.uniform(20, 80, count)
    images = np.clip(3 * ages[:, None, None, None] + rng.integers(-8, 9, (count, 8, 8, 3)), 0, 255)
    mask = np.zeros(count, np.float32)
    mask[known] = 1
    return source.Split(images.astype(np.uint8), {"age": ages.astype(np.float32)[:, None]},
                        {"age": mask})


def _load_ages(config):
    del config
    train = _ages(48, np.arange(48) % 3 != 0, seed=1)
    # Validation in two batches of 16: 2 known labels in the first, 16 in the second; the
    # two are ages the images do not show, so that the first batch's mean is far off.
    validation = _ages(32, np.r_[0:2, 16:32], seed=2)
    validation.labels["age"][:2] = 150.0
    known = train.labels["age"][train.masks["age"] > 0]
    task = tasks_lib.Task("age", kind="regression", target_mean=float(known.mean()),
                          target_std=float(known.std()))
    return source.DataSource("ages", (task,), train, validation,
                             _ages(8, np.arange(8), seed=3))


def test_a_single_heads_loss_is_the_mean_over_the_known_labels_of_the_epoch(tmp_path,
                                                                            monkeypatch):
    """One masked regression head, whose batches hold different numbers of known labels:
    its logged training and validation losses are the means over the epoch's known labels,
    as with several heads, not the mean of the batches' means. With a learning rate of
    1e-9 the model stays as saved, whose outputs give the expected values."""
    register_for_test(monkeypatch, source.DATASETS, "ages", _load_ages)
    run = mtl_keras.train(dataset="ages", trunk="simple_cnn", epochs=1, batch_size=16,
                          optimizer="adamw", learning_rate=1e-9, weight_decay=0.0,
                          schedule="constant", warmup_epochs=0.0, augment=False,
                          mixed_precision="false", checkpoint_minutes=0.0,
                          workdir=str(tmp_path / "run"))
    [row] = _rows(tmp_path / "run")
    data = _load_ages(None)

    def squared_errors(split):
        """Each row's squared error in standard deviations of the known training ages."""
        outputs = run.model.predict(split.images, verbose=0)["age"][:, 0].astype(np.float64)
        return np.square((split.labels["age"][:, 0] - outputs) / data.tasks[0].target_std)

    for prefix, split in (("", data.train), ("val_", data.validation)):
        known = split.masks["age"] > 0
        assert float(row[f"{prefix}age_loss"]) == pytest.approx(
            np.mean(squared_errors(split)[known]), rel=1e-4), prefix
    # The batches' means would give another figure: the first batch's two labels would
    # weigh as much as the second batch's sixteen.
    errors, known = squared_errors(data.validation), data.validation.masks["age"] > 0
    batch_means = [np.mean(errors[:16][known[:16]]), np.mean(errors[16:][known[16:]])]
    assert abs(np.mean(batch_means) / np.mean(errors[known]) - 1) > 0.2


@pytest.mark.parametrize("monitor, scores, best_epoch", [
    (("val_fine_accuracy", "max"), [0.2, 0.5, 0.3], 1),
    (("val_age_mae", "min"), [7.0, 9.0, 4.0, 5.0], 2),
    # A first epoch whose score is not a number (NaN) is no best: the later ones compare
    # with each other.
    (("val_age_mae", "min"), [float("nan"), 9.0, 4.0, 5.0], 2),
])
def test_best_keras_holds_the_best_epoch(tmp_path, monitor, scores, best_epoch):
    from mtl_keras.training import callbacks, checkpointer

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    progress = run_state.Progress(steps_per_epoch=1)
    clock = callbacks.EpochLogger()
    saver = checkpointer.Checkpointer(str(tmp_path), str(tmp_path), True, ["fine"], monitor,
                                      progress, None, clock, 0.0)
    saver.set_model(model)
    saver.on_train_begin()
    for epoch, score in enumerate(scores):
        saver.on_epoch_begin(epoch)
        model.set_weights([np.full((1, 1), float(epoch)), np.zeros(1)])  # weights = epoch
        saver.on_epoch_end(epoch, {"loss": 1.0, monitor[0]: score})
    saver.on_train_end()
    best = keras.saving.load_model(tmp_path / "checkpoints" / "best.keras")
    last = keras.saving.load_model(tmp_path / "checkpoints" / "last.keras")
    assert best.get_weights()[0][0, 0] == best_epoch
    assert last.get_weights()[0][0, 0] == len(scores) - 1
    assert run_state.load(str(tmp_path))[0].best == scores[best_epoch]


# A first head that reports neither accuracy nor MAE: best.keras is its epoch of least
# validation loss. No dataset of ours has one (their heads keep their kinds' metrics), so
# the test registers a dataset of its own, as a user of the library would.
FLAG_EPOCHS = 6


def _flag_and_size(count, seed, flipped):
    """8×8 images whose red channel tells the binary head `flag` and whose green channel
    tells the regression head `size`; a share `flipped` of the flags is turned over."""
    rng = np.random.default_rng(seed)
    flag, size = rng.integers(0, 2, count), rng.normal(5.0, 2.0, count)
    images = np.zeros((count, 8, 8, 3), np.int64)
    images[..., 0] = (60 + 120 * flag)[:, None, None]
    images[..., 1] = (20 * size)[:, None, None]
    images = np.clip(images + rng.integers(-30, 31, images.shape), 0, 255).astype(np.uint8)
    shown = np.where(rng.random(count) < flipped, 1 - flag, flag)
    return source.Split(images, {"flag": shown.astype(np.float32)[:, None],
                                 "size": size.astype(np.float32)[:, None]})


def _load_flags(config):
    del config
    # Clean training labels, a fifth of the validation flags turned over: as the head grows
    # sure of itself its validation loss falls, then rises on the turned-over fifth.
    train = _flag_and_size(64, seed=1, flipped=0.0)
    sizes = train.labels["size"]
    tasks = (tasks_lib.Task("flag", class_names=("no", "yes"), kind="binary", metrics=("auc",)),
             tasks_lib.Task("size", kind="regression", target_mean=float(sizes.mean()),
                            target_std=float(sizes.std())))
    return source.DataSource("flags", tasks, train, _flag_and_size(32, seed=2, flipped=0.2),
                             _flag_and_size(16, seed=3, flipped=0.0))


def _binary_cross_entropy(labels, probabilities):
    # Keras' definition: probabilities clipped to [1e-7, 1 - 1e-7].
    probabilities = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-(labels * np.log(probabilities)
                           + (1 - labels) * np.log(1 - probabilities))))


def test_best_keras_of_a_head_without_accuracy_or_mae_is_its_least_validation_loss(
        tmp_path, monkeypatch):
    """The first head's only metric is AUC: best.keras is the epoch of its lowest validation
    loss. On this (deterministic) run that epoch is neither the first nor the last, nor the
    epoch of the lowest total loss, nor of the highest or lowest AUC, so monitoring the total,
    the AUC, the wrong direction, or saving every epoch, shows; so does a monitored name the
    logs lack (no best.keras)."""
    register_for_test(monkeypatch, source.DATASETS, "flags", _load_flags)
    run = mtl_keras.train(dataset="flags", trunk="simple_cnn", epochs=FLAG_EPOCHS, batch_size=32,
                          optimizer="adamw", learning_rate=0.005, weight_decay=0.0,
                          schedule="constant", warmup_epochs=0.0, augment=False,
                          mixed_precision="false", deterministic=True, checkpoint_minutes=0.0,
                          seed=1, workdir=str(tmp_path / "run"))
    rows = _rows(tmp_path / "run")
    scores = [float(row["val_flag_loss"]) for row in rows]
    best = int(np.argmin(scores))
    wrong = {"the highest loss": np.argmax(scores),
             "the lowest total": np.argmin([float(row["val_loss"]) for row in rows]),
             "the highest AUC": np.argmax([float(row["val_flag_auc"]) for row in rows]),
             "the lowest AUC": np.argmin([float(row["val_flag_auc"]) for row in rows])}
    assert len(scores) == FLAG_EPOCHS and 0 < best < FLAG_EPOCHS - 1, (
        f"the example needs its best epoch in the middle, not at {best} of {scores}: if a new "
        f"TensorFlow moved it, choose another seed or learning rate")
    assert best not in wrong.values(), (best, wrong)
    validation = _load_flags(None).validation
    for name, epoch in (("best.keras", best), ("last.keras", FLAG_EPOCHS - 1)):
        model = keras.saving.load_model(tmp_path / "run" / "checkpoints" / name, compile=False)
        outputs = model.predict(validation.images, verbose=0)["flag"]
        assert _binary_cross_entropy(validation.labels["flag"], outputs) == pytest.approx(
            scores[epoch], rel=1e-4), name
    assert "val_flag_accuracy" not in rows[0] and run.config.epochs == FLAG_EPOCHS


def test_a_workdir_that_cannot_be_written_is_refused(run_flags, tmp_path, capsys, monkeypatch):
    # Permissions do not bind the root user who runs the tests: the OS's answer is made up.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(tmp_path)
                        else real_access(path, mode))
    path = tmp_path / "run"
    assert _main(run_flags, f"--workdir={path}") == 2
    assert capsys.readouterr().err == (
        f"error: --workdir={path} cannot be written here ({tmp_path} is not writable); pass a "
        f"folder you can write.\n")
    assert not path.exists()


def test_a_signal_outside_training_stops_at_once_with_its_status():
    from mtl_keras import errors
    from mtl_keras.training import signals

    stop = signals.StopRequest()
    for number, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        with pytest.raises(errors.Interrupted, match="^stopped by SIG.+; nothing was trained") as info:
            stop.handle(number, None)
        assert info.value.exit_status == status
    stop = signals.StopRequest()
    stop.deferred = True  # in training: the first signal waits for the end of the step ...
    stop.handle(signal.SIGINT, None)
    assert stop.signal_number == signal.SIGINT
    with pytest.raises(errors.Interrupted):  # ... a second one does not
        stop.handle(signal.SIGINT, None)
