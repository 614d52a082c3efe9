"""--tasks and task files: kinds, classes, and the mistakes users make."""

import json

import pytest

from mtl_keras import errors
from mtl_keras import tasks
from mtl_keras.data.labels import task_spec


def test_parse_tasks_flag_kinds_and_classes():
    specs = task_spec.parse_tasks_flag(
        "age:regression, gender:binary:male|female, race:multiclass:7, tags:multilabel:a|b|c, "
        "mood:multiclass")
    assert [(s.name, s.kind, s.num_classes, s.class_names) for s in specs] == [
        ("age", "regression", 0, ()), ("gender", "binary", 2, ("male", "female")),
        ("race", "multiclass", 7, ()), ("tags", "multilabel", 3, ("a", "b", "c")),
        ("mood", "multiclass", 0, ())]


@pytest.mark.parametrize("text,message", [
    ("age:regression,age:binary", "declares the head 'age' twice"),
    ("age:ordinal", "kind 'ordinal'"),
    ("age:regression:3", "regression head takes no classes"),
    ("tags:multilabel", "multilabel head needs its classes"),
    ("gender:binary:3", "a binary head needs exactly 2"),
    ("race:multiclass:a|a", "distinct names"),
    (":binary", "no head name"),
    ("", "declares no head"),
])
def test_parse_tasks_flag_refuses(text, message):
    with pytest.raises(errors.UserError, match=message):
        task_spec.parse_tasks_flag(text)


def test_tasks_file(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([
        {"name": "age", "kind": "regression", "loss": "mae", "weight": 0.5},
        {"name": "race", "kind": "multiclass", "classes": ["White", "Black"]}]))
    age, race = task_spec.read_tasks_file(str(path))
    assert (age.loss, age.weight) == ("mae", 0.5)
    assert race.class_names == ("White", "Black")
    path.write_text(json.dumps([{"name": "age", "kind": "regression", "colour": "red"}]))
    with pytest.raises(errors.UserError, match="task 1 needs name and kind"):
        task_spec.read_tasks_file(str(path))
    path.write_text("[{")
    with pytest.raises(errors.UserError, match="not valid JSON"):
        task_spec.read_tasks_file(str(path))


@pytest.mark.parametrize("kind,units,activation,loss,metrics", [
    ("multiclass", 7, "softmax", "sparse_categorical_crossentropy", ("accuracy", "top5_accuracy")),
    ("binary", 1, "sigmoid", "binary_crossentropy", ("accuracy", "auc")),
    ("regression", 1, "linear", "mse", ("mae", "rmse")),
    ("multilabel", 7, "sigmoid", "binary_crossentropy", ("accuracy", "auc")),
])
def test_kind_defaults(kind, units, activation, loss, metrics):
    task = tasks.Task("head", num_classes=7 if kind in ("multiclass", "multilabel") else 1, kind=kind)
    assert (task.units, task.activation, task.loss_name, task.metric_names) == (
        units, activation, loss, metrics)
    assert tasks.Task("head", 3, kind="multiclass").metric_names == ("accuracy",)
