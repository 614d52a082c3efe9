"""Settings that would do nothing, or too much, are refused with one line before anything
is written: absurd sizes and options, a run name leaving runs/, settings the dataset does
not read, loss weights that train nothing, CSV rows scored twice or with a cell too many or
too few (named by their line)."""

import labelled_folder
import pytest
from helpers import refusal

from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import methods
from mtl_keras import tasks as tasks_lib
from mtl_keras.data.datasets import folder as folder_lib
from mtl_keras.models import architectures
from mtl_keras.training import compile as compile_lib


def _refused(function, *args, **kwargs):
    with pytest.raises(errors.UserError) as raised:
        function(*args, **kwargs)
    return str(raised.value)


# --------------------------------------------------------------------------- values

def test_an_image_size_no_machine_holds_is_refused():
    assert config_lib.Config(image_size=4096).image_size == 4096
    assert _refused(config_lib.Config, image_size=100000).startswith(
        "--image_size must be at most 4096 pixels")


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".hidden", "a\\b"])
def test_an_experiment_name_leaving_runs_is_refused(name):
    assert _refused(config_lib.Config, experiment=name).startswith(f"--experiment={name} names a "
                                                                    f"folder under runs/")


def test_a_plain_experiment_name_is_kept():
    assert config_lib.Config(experiment="fashion-2.b_c").experiment_name == "fashion-2.b_c"


@pytest.mark.parametrize("options, message", [
    ({"c": "nan"}, "c must be a number from 0 to 10"), ({"c": 1e30}, "c must be a number from 0 to 10"),
    ({"c": "inf"}, "c must be a number from 0 to 10")])
def test_cagrad_refuses_a_radius_that_vanishes_its_update(options, message):
    assert message in _refused(methods.METHODS.options, "cagrad", options)
    assert methods.METHODS.options("cagrad", {"c": 10})["c"] == 10


def test_other_absurd_options_are_refused():
    assert "alpha must be a number of at least 0" in _refused(methods.METHODS.options, "gradnorm",
                                                             {"alpha": "nan"})
    assert "experts must be a whole number from 1 to 64" in _refused(
        architectures.make, "mmoe", {"experts": 1e30})


def test_all_loss_weights_zero_are_refused():
    heads = (tasks_lib.Task("fine", 100), tasks_lib.Task("coarse", 20, weight=0.0))
    assert compile_lib.resolve_loss_weights(heads, {"fine": 0.5}) == {"fine": 0.5, "coarse": 0.0}
    assert _refused(compile_lib.resolve_loss_weights, heads, {"fine": 0}) == (
        "Every head's loss weight is 0 (fine=0, coarse=0), so nothing would train; give at least "
        "one head a weight above 0.")


# --------------------------------------------------------------------------- ignored settings

@pytest.mark.parametrize("settings, flag", [
    ({"dataset": "cifar100", "tasks": "a:multiclass"}, "tasks"),
    ({"dataset": "fashion_mnist", "csv": "labels.csv"}, "csv"),
    ({"dataset": "cifar100", "cache_dir": "cache"}, "cache_dir"),
    ({"dataset": "tfds:mnist", "cache_dir": "cache"}, "cache_dir"),
    ({"dataset": "cifar100", "image_size": 96}, "image_size"),
    ({"dataset": "multi_fashion", "in_memory": "false"}, "in_memory")])
def test_a_setting_the_dataset_does_not_read_is_refused(settings, flag):
    message = _refused(data_lib.load, config_lib.Config(synthetic=True, **settings))
    assert message.startswith(f"--{flag} is read by --dataset=")
    assert message.endswith(f"which would ignore it. Drop --{flag}.")


def test_a_cache_for_synthetic_images_is_refused():
    message = _refused(data_lib.check_settings,
                       config_lib.Config(synthetic=True, dataset="folder", cache_dir="c"), "folder")
    assert message.startswith("--cache_dir keeps a folder's decoded images; --synthetic")


def test_task_sampling_settings_are_refused_by_the_joint_protocol(run_flags, capsys, tmp_path):
    assert refusal(run_flags, capsys, tmp_path / "run", "--synthetic", "--trunk=simple_cnn",
                   "--sampling=proportional").startswith("--sampling=proportional is a setting "
                                                         "of --protocol=task_sampling")


# --------------------------------------------------------------------------- CSV rows

@pytest.fixture
def table(tmp_path):
    labelled_folder.write(tmp_path, {"train": 6, "validation": 2, "test": 2})
    return tmp_path / "labels.csv"


def _read(path):
    return folder_lib.read_table(str(path), "image", "split", list(labelled_folder.HEADS))


def _edit(path, edit):
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def test_the_table_reads_whole(table):
    assert len(_read(table)) == 10


def test_a_row_listed_twice_is_refused_naming_both_lines(table):
    _edit(table, lambda lines: [*lines, lines[3]])  # line 12 repeats line 4 (img/002.gif)
    assert _refused(_read, table) == (f"{table}:12: image img/002.gif is listed again (first on "
                                      f"line 4); list each image once.")


@pytest.mark.parametrize("change, cells", [(lambda line: line + ",extra", 6),
                                           (lambda line: line.rsplit(",", 1)[0], 4)])
def test_a_row_with_a_cell_too_many_or_too_few_is_refused(table, change, cells):
    _edit(table, lambda lines: [*lines[:5], change(lines[5]), *lines[6:]])
    assert _refused(_read, table) == (f"{table}:6: {cells} cells where the header has 5; give "
                                      f"every row one cell per column (empty for an unknown "
                                      f"label).")
