"""Every file the package reads back is checked: damaged, it gives one `error:` line naming
it and the way out (exit 2), or for a record cache, the cache is written again.

One tiny finished run (a module fixture) is copied and damaged per test; the saved state
is made by `run_state.save` on a small model; the record cache by loading a small folder."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import labelled_folder
from helpers import error_lines, run_main
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
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

def _saved_state(folder):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer.build(model.trainable_variables)
    run_state.save(str(folder), model, run_state.Progress(epoch=1, steps_per_epoch=3))
    return model


SPEC = (tf.TensorSpec((None, 2), tf.float32), tf.TensorSpec((None, 1), tf.float32))


def _expected_message(folder, path, error):
    return (f"{path} is damaged ({error}), so the run cannot resume from it; remove "
            f"{folder / 'checkpoints' / 'state*'} to train the run again from its start, or "
            f"pass a new --workdir.")


def test_a_whole_state_restores(tmp_path):
    model = _saved_state(tmp_path)
    weights = [variable.numpy() for variable in model.variables]
    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    other.compile(optimizer="sgd", loss="mse")
    progress, index = run_state.load(str(tmp_path))
    run_state.restore_model(str(tmp_path), other, index, SPEC)
    assert progress.epoch == 1
    for restored, saved in zip(other.variables, weights):
        np.testing.assert_array_equal(restored.numpy(), saved)


@pytest.mark.parametrize("content, error", [
    ("", "JSONDecodeError"), ('{"epoch": 1, "st', "JSONDecodeError"), ("[]", "AttributeError"),
    ('{"epoch": 1}', "KeyError")])
def test_a_damaged_state_index_is_refused_with_the_way_out(tmp_path, content, error):
    _saved_state(tmp_path)
    index = tmp_path / "checkpoints" / "state.json"
    index.write_text(content, encoding="utf-8")
    with pytest.raises(errors.UserError) as raised:
        run_state.load(str(tmp_path))
    assert str(raised.value) == _expected_message(tmp_path, index, error)


@pytest.mark.parametrize("keep", [0, 60, -40])
def test_a_truncated_state_archive_is_refused_with_the_way_out(tmp_path, keep):
    _saved_state(tmp_path)
    progress, index = run_state.load(str(tmp_path))
    archive = tmp_path / "checkpoints" / index["values"]
    archive.write_bytes(archive.read_bytes()[:keep])
    other = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    other.compile(optimizer="sgd", loss="mse")
    with pytest.raises(errors.UserError) as raised:
        run_state.restore_model(str(tmp_path), other, index, SPEC)
    assert str(raised.value).startswith(f"{archive} is damaged (")
    assert str(raised.value).endswith(", or pass a new --workdir.")


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
    config, cache, _ = cached
    capsys.readouterr()
    data_lib.load(config)
    assert "reading 40 images from the record cache" in capsys.readouterr().out
