"""Head names: one rule (tasks.check_name) for every way a head is declared, refused before
anything is written, and checked against the layers the models really have."""

import json
import re

import numpy as np
import pytest

import faces_data
from helpers import refusal
from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data.labels import hierarchy as hierarchy_lib
from mtl_keras.models import architectures
from mtl_keras.models import build
from mtl_keras.models import trunks

FOLDER = ["--dataset=folder", "--trunk=simple_cnn", "--image_size=16", "--batch_size=4",
          "--validation_size=0", "--epochs=1", "--warmup_epochs=0"]


@pytest.mark.parametrize("name", ["age", "Age2", "1st_choice", "age-group", "age.group", "a" * 200,
                                  "loss", "epoch", "learning_rate", "average", "dropout"])
def test_usable_names(name):
    assert tasks_lib.Task(name, 3).name == name


# Each of these but "_age" broke a run on TensorFlow 2.21 / Keras 3.15 after its workdir
# was written (an invalid name scope, layer or variable name, or a second layer of the
# same name), or logged under another head's names (val_). "_age" worked; the rule asks
# for a letter or digit first, as TensorFlow does of a root name scope.
@pytest.mark.parametrize("name,reason", [
    ("age group", "is not usable as a layer and log name"),
    ("age/group", "is not usable as a layer and log name"),
    ("âge", "is not usable as a layer and log name"),
    ("age\\x", "is not usable as a layer and log name"),
    ("age:x", "is not usable as a layer and log name"),
    ("_age", "is not usable as a layer and log name"),
    ("val_age", "starts with 'val_'"),
    ("dense", "is taken by a layer of the model itself"),
    ("conv2d_3", "is taken by a layer of the model itself"),
    ("image", "is taken by a layer of the model itself"),
    ("age_standardised", "is taken by a layer of the model itself"),
])
def test_unusable_names(name, reason):
    with pytest.raises(errors.UserError, match=f"^Head name {re.escape(repr(name))} {reason}"):
        tasks_lib.Task(name, 3)


@pytest.mark.parametrize("trunk,architecture", [
    *((trunk, "hps") for trunk in trunks.TRUNKS.names()),
    *(("resnet9", name) for name in architectures.ARCHITECTURES.names() if name != "hps")])
def test_reserved_names_cover_every_layer_of_every_trunk(trunk, architecture):
    """A head may not take the name of any layer the models have: the list in tasks.py
    must grow with the trunks and the architectures."""
    heads = (tasks_lib.Task("kind", 10), tasks_lib.Task("size", kind="regression"))
    options = {"experts": 2} if architecture == "mmoe" else {}
    model = build.build_model(heads, trunk, (32, 32, 3), np.zeros(3), np.ones(3),
                              architecture=architecture, architecture_options=options)
    for layer in model.layers:
        if layer.name not in ("kind", "size"):
            with pytest.raises(errors.UserError, match="is taken by a layer"):
                tasks_lib.check_name(layer.name)


def test_every_published_level_is_a_usable_head_name():
    """--heads picks among these levels only, so the rule covers it through them."""
    for dataset in hierarchy_lib.names():
        for level in hierarchy_lib.levels(dataset):
            tasks_lib.check_name(level)


def test_two_heads_logging_under_one_name():
    with pytest.raises(errors.UserError, match="Heads 'x' and 'x_top5' would both log "
                                               "'x_top5_accuracy'"):
        tasks_lib.check_heads((tasks_lib.Task("x", 6), tasks_lib.Task("x_top5", 2)))


@pytest.fixture
def faces(tmp_path):
    faces_data.write_csv_folder(tmp_path, count=8)
    return tmp_path


def test_tasks_flag_name_is_refused(run_flags, capsys, faces):
    rows = [{"image": f"img/face{index}.png", "age group": index} for index in range(8)]
    faces_data.write_rows(faces / "labels.csv", rows, fields=("image", "age group"))
    message = refusal(run_flags, capsys, faces / "w", *FOLDER, f"--csv={faces / 'labels.csv'}",
                      "--tasks=age group:regression")
    assert message == ("--tasks item 'age group:regression': head name 'age group' is not usable "
                       "as a layer and log name; use ASCII letters, digits, '_', '.' and '-', "
                       "starting with a letter or a digit.")


@pytest.mark.parametrize("heads,expected", [
    ([{"name": "dense", "kind": "regression"}],
     "{path}: task 1: head name 'dense' is taken by a layer of the model itself"),
    ([{"name": "race", "kind": "multiclass", "classes": 6},
      {"name": "race_top5", "kind": "binary"}],
     "Heads 'race' and 'race_top5' would both log 'race_top5_accuracy' (history.csv, "
     "TensorBoard); rename one of them."),
], ids=["layer-name", "log-names"])
def test_tasks_file_names_are_refused(run_flags, capsys, faces, heads, expected):
    rows = [{"image": f"img/face{index}.png", "race": index % 6, "race_top5": index % 2,
             "dense": index} for index in range(8)]
    faces_data.write_rows(faces / "labels.csv", rows,
                          fields=("image", "race", "race_top5", "dense"))
    path = faces / "tasks.json"
    path.write_text(json.dumps(heads))
    message = refusal(run_flags, capsys, faces / "w", *FOLDER, f"--csv={faces / 'labels.csv'}",
                      f"--tasks_file={path}", "--test_fraction=0.5")
    assert message.startswith(expected.format(path=path)), message
