"""Every file the package reads back is checked: damaged, it gives one `error:` line naming
it and the way out (exit 2), or for a record cache, the cache is written again.

One tiny finished run (a module fixture) is copied and damaged per test; the saved state
is made by `run_state.save` on a small model; the record cache by loading a small folder."""

import errno
import json
import os
import shutil

import keras
import labelled_folder
import numpy as np
import pytest
import tensorflow as tf
from helpers import error_lines, run_main

from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras.cli import compare as compare_cli
from mtl_keras.cli import evaluate as evaluate_cli
from mtl_keras.training import run_state


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from helpers import TrainFlags
    workdir = tmp_path_factory.mktemp("finished") / "run"
    flag_values = TrainFlags()
    flag_values.unparse_flags()
    status = run_main(flag_values, "--synthetic", "--synthetic_examples=256", "--validation_size=0",
                      "--trunk=simple_cnn", "--batch_size=64", "--epochs=1", f"--workdir={workdir}")
    flag_values.unparse_flags()
    assert status == 0
    return workdir


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def _one_error(capsys, status, expected_status=2):
    lines = error_lines(capsys.readouterr().err)
    assert status == expected_status and len(lines) == 1, (status, lines)
    assert lines[0].startswith("error: ")
    return lines[0][len("error: "):]


# --------------------------------------------------------------------------- compare

@pytest.mark.parametrize("content", ["", '{"heads": {"fine": ', "[1, 2]", '{"dataset": "x"}'])
def test_compare_refuses_a_damaged_metrics_file_naming_it(run, capsys, content):
    (run / "metrics.json").write_text(content, encoding="utf-8")
    message = _one_error(capsys, compare_cli.main(["compare", str(run)]))
    assert message == (f"{run / 'metrics.json'} is damaged (not the JSON a run writes); leave "
                       f"{run} out of the comparison, or train that run again into a new --workdir.")


def test_compare_refuses_an_out_that_is_a_file(run, tmp_path, capsys):
    (tmp_path / "taken").write_text("mine", encoding="utf-8")
    message = _one_error(capsys, compare_cli.main(["compare", str(run),
                                                   f"--out={tmp_path / 'taken'}"]))
    assert message.startswith(f"--out={tmp_path / 'taken'} is a file; give a folder")
    assert (tmp_path / "taken").read_text(encoding="utf-8") == "mine"


# --------------------------------------------------------------------------- evaluate

@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip archive"])
def test_evaluate_refuses_a_damaged_model_naming_it(run, capsys, content):
    (run / "model.keras").write_bytes(content)
    message = _one_error(capsys, evaluate_cli.main(["evaluate", f"--workdir={run}"]))
    assert message.startswith(f"{run / 'model.keras'} cannot be loaded as a Keras model (")
    assert not (run / "evaluation-test.json").exists()


# --------------------------------------------------------------------------- saved state

def _model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _saved_state(folder, epochs=1):
    """Saves the state of a small model after each of `epochs` epochs (its weights moved
    between saves); returns the weights of each save."""
    keras.utils.set_random_seed(1)
    model, saved = _model(), []
    for epoch in range(1, epochs + 1):
        model.layers[0].kernel.assign(model.layers[0].kernel + epoch)
        saved.append([variable.numpy() for variable in model.variables])
        run_state.save(str(folder), model, run_state.Progress(epoch=epoch, steps_per_epoch=3))
    return saved


SPEC = (tf.TensorSpec((None, 2), tf.float32), tf.TensorSpec((None, 1), tf.float32))


def _restored(folder):
    """(progress, the weights a new model gets from the state in `folder`)."""
    progress, index = run_state.load(str(folder))
    model = _model()
    run_state.restore_model(str(folder), model, index, SPEC)
    return progress, [variable.numpy() for variable in model.variables]


def _assert_weights(restored, saved):
    assert len(restored) == len(saved)
    for value, expected in zip(restored, saved):
        np.testing.assert_array_equal(value, expected)


def test_a_whole_state_restores_the_last_save(tmp_path):
    saved = _saved_state(tmp_path, epochs=3)
    progress, restored = _restored(tmp_path)
    assert progress.epoch == 3
    _assert_weights(restored, saved[2])
    # The last two saves are kept, no more.
    assert sorted(path.name for path in (tmp_path / "checkpoints").iterdir()) == [
        "state-6.npz", "state-9.npz", "state-previous.json", "state.json"]


def _expected_message(folder, path, error):
    return (f"{path} is damaged ({error}), so the run cannot resume from it; remove "
            f"{folder / 'checkpoints' / 'state*'} to train the run again from its start, or "
            f"pass a new --workdir.")


INDEX_DAMAGES = [("", "JSONDecodeError"), ('{"epoch": 1, "st', "JSONDecodeError"),
                 ("[]", "AttributeError"), ('{"epoch": 1}', "KeyError")]


@pytest.mark.parametrize("content, error", INDEX_DAMAGES)
def test_a_damaged_state_index_resumes_from_the_state_before(tmp_path, capsys, content, error):
    saved = _saved_state(tmp_path, epochs=2)
    index = tmp_path / "checkpoints" / "state.json"
    index.write_text(content, encoding="utf-8")
    progress, restored = _restored(tmp_path)
    assert progress.epoch == 1
    _assert_weights(restored, saved[0])
    assert capsys.readouterr().out == (f"[mtl_keras] {index} is damaged ({error}); resuming from "
                                       f"the state saved before it, at the end of epoch 1\n")


@pytest.mark.parametrize("keep", [0, 60, -40])
def test_a_truncated_state_archive_resumes_from_the_state_before(tmp_path, capsys, keep):
    saved = _saved_state(tmp_path, epochs=2)
    archive = tmp_path / "checkpoints" / "state-6.npz"
    archive.write_bytes(archive.read_bytes()[:keep])
    progress, restored = _restored(tmp_path)
    assert progress.epoch == 1
    _assert_weights(restored, saved[0])
    assert capsys.readouterr().out.startswith(f"[mtl_keras] {archive} is damaged (")


@pytest.mark.parametrize("content, error", INDEX_DAMAGES)
def test_a_damaged_only_state_is_refused_with_the_way_out(tmp_path, content, error):
    _saved_state(tmp_path)
    index = tmp_path / "checkpoints" / "state.json"
    index.write_text(content, encoding="utf-8")
    with pytest.raises(errors.UserError) as raised:
        run_state.load(str(tmp_path))
    assert str(raised.value) == _expected_message(tmp_path, index, error)


def test_a_truncated_only_archive_is_refused_with_the_way_out(tmp_path):
    _saved_state(tmp_path)
    archive = tmp_path / "checkpoints" / "state-3.npz"
    archive.write_bytes(archive.read_bytes()[:-40])
    with pytest.raises(errors.UserError) as raised:
        run_state.load(str(tmp_path))
    assert str(raised.value) == _expected_message(tmp_path, archive, "BadZipFile")


# --------------------------------------------------------------------------- record cache

@pytest.fixture
def cached(tmp_path):
    labelled_folder.write(tmp_path / "faces", {"train": 24, "validation": 8, "test": 8})
    config = config_lib.Config(dataset="folder", csv=str(tmp_path / "faces" / "labels.csv"),
                               tasks=labelled_folder.TASKS, image_size=8, in_memory="false",
                               cache_dir=str(tmp_path / "cache"))
    data = data_lib.load(config)
    return config, tmp_path / "cache", data.test.images.first(len(data.test))


def _shard(cache, split):
    manifest = json.loads((cache / "manifest.json").read_text(encoding="utf-8"))
    return cache / manifest["splits"][split]["files"][0]


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_damaged_cache_shard_is_written_again(cached, capsys, damage):
    config, cache, images = cached
    shard = _shard(cache, "test")
    if damage == "deleted":
        os.remove(shard)
    else:
        shard.write_bytes(shard.read_bytes()[:-10])
    capsys.readouterr()
    data = data_lib.load(config)
    assert (f"the record cache in {cache} lost or holds a damaged {shard.name}; writing it again"
            in capsys.readouterr().out)
    np.testing.assert_array_equal(data.test.images.first(len(data.test)), images)


def test_a_whole_cache_is_read_not_written(cached, capsys):
    config, _, _ = cached
    capsys.readouterr()
    data_lib.load(config)
    assert "reading 40 images from the record cache" in capsys.readouterr().out


def test_a_cache_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    labelled_folder.write(tmp_path / "faces", {"train": 24, "validation": 8, "test": 8})
    config = config_lib.Config(dataset="folder", csv=str(tmp_path / "faces" / "labels.csv"),
                               tasks=labelled_folder.TASKS, image_size=8, in_memory="false",
                               cache_dir=str(tmp_path / "cache"))

    def read_only(*args, **kwargs):  # what a read-only file system answers
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(os, "makedirs", read_only)
    assert str(pytest.raises(errors.UserError, data_lib.load, config).value) == (
        f"--cache_dir={tmp_path / 'cache'} cannot be written (Read-only file system); give a "
        f"folder you can write, or leave --cache_dir out to read the images from their files.")


# --------------------------------------------------------------------------- full disk

def test_a_full_disk_keeps_the_previous_file_and_says_so(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    fileio.write_json(path, {"accuracy": 0.5})

    def full(descriptor):  # the disk filled while the new file was written
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(errors.UserError) as raised:
        fileio.write_json(path, {"accuracy": 0.75})
    assert str(raised.value) == (f"{path} cannot be written (No space left on device); free some "
                                 f"space or give a folder you can write; the files written before "
                                 f"are kept.")
    assert json.loads(path.read_text(encoding="utf-8")) == {"accuracy": 0.5}
    assert os.listdir(tmp_path) == ["metrics.json"]
