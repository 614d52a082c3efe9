"""A run says when --rep_grad leaves the gradient methods nothing to act on: heads that never
share a training image have orthogonal gradients of the shared representation."""

import numpy as np

from mtl_keras import config as config_lib
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.training import train


def _data(masks):
    images = np.zeros((4, 8, 8, 1), np.uint8)
    labels = {name: np.zeros(4, np.int64) for name in masks}
    split = source.Split(images, labels, {name: np.asarray(m, np.float32)
                                          for name, m in masks.items()})
    tasks = tuple(tasks_lib.Task(name, 2) for name in masks)
    return source.DataSource("made_up", tasks, split, None, split)


def test_heads_that_never_share_an_image_get_the_note_with_rep_grad_only():
    family = _data({"a": [1, 1, 0, 0], "b": [0, 0, 1, 0], "c": [0, 0, 0, 1]})
    assert not family.train.heads_share_examples(["a", "b", "c"])
    note = train.rep_grad_note(config_lib.Config(rep_grad=True), family)
    assert "orthogonal" in note and "drop --rep_grad" in note
    assert train.rep_grad_note(config_lib.Config(rep_grad=False), family) == ""
    # One image labelled for two heads: their gradients can conflict, no note.
    shared = _data({"a": [1, 1, 0, 0], "b": [0, 1, 1, 0], "c": [0, 0, 0, 1]})
    assert shared.train.heads_share_examples(["a", "b", "c"])
    assert train.rep_grad_note(config_lib.Config(rep_grad=True), shared) == ""
    # Every label known (no masks) on two heads: shared; one head alone: nothing to conflict.
    whole = source.DataSource("made_up", (tasks_lib.Task("a", 2), tasks_lib.Task("b", 2)),
                              source.Split(np.zeros((2, 8, 8, 1), np.uint8),
                                           {"a": np.zeros(2), "b": np.zeros(2)}), None,
                              source.Split(np.zeros((2, 8, 8, 1), np.uint8),
                                           {"a": np.zeros(2), "b": np.zeros(2)}))
    assert train.rep_grad_note(config_lib.Config(rep_grad=True), whole) == ""
    alone = _data({"a": [1, 1, 1, 1]})
    assert train.rep_grad_note(config_lib.Config(rep_grad=True), alone) == ""
