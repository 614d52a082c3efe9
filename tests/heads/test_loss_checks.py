"""Losses that cannot train their head are refused before anything is written: a registered
loss made for another kind of head, a function that raises, takes the wrong arguments or
returns anything but one value per example."""

import pytest

import faces_data
from helpers import refusal
from mtl_keras import errors
from mtl_keras import heads
from mtl_keras import tasks as tasks_lib
from mtl_keras.heads import losses

SYNTHETIC = ["--synthetic", "--synthetic_examples=64", "--validation_size=16", "--batch_size=16"]
FACES = ["--dataset=folder", "--trunk=simple_cnn", "--image_size=16", "--batch_size=4",
         "--validation_size=0", "--epochs=1", "--warmup_epochs=0",
         "--tasks=age:regression,gender:binary,tags:multilabel:" + "|".join(faces_data.TAGS)]


def test_every_registered_loss_fits_some_kind_and_every_kind_its_default():
    fitting = {name for entry in heads.KINDS.entries() for name in entry.value.fitting_losses}
    assert fitting == set(losses.LOSSES.names())
    for entry in heads.KINDS.entries():
        assert entry.value.default_loss in entry.value.fitting_losses


@pytest.mark.parametrize("flags,expected", [
    (["--losses=fine=mse"],
     "The loss 'mse' does not fit head 'fine', a multiclass head; the registered losses that fit "
     "it are sparse_categorical_crossentropy (or give package.module:function of a loss of your "
     "own)."),
    (["--losses=coarse=binary_crossentropy"],
     "The loss 'binary_crossentropy' does not fit head 'coarse', a multiclass head; the "
     "registered losses that fit it are sparse_categorical_crossentropy (or give "
     "package.module:function of a loss of your own)."),
    (["--losses=coarse=custom_losses:raises"],
     "The loss 'custom_losses:raises' of head 'coarse' fails on a batch of its labels and outputs "
     "(KeyError: \"no column named 'weight'\"); a loss is loss(y_true, y_pred) returning one "
     "value per example."),
    (["--losses=fine=custom_losses:one_argument"],
     "The loss 'custom_losses:one_argument' of head 'fine' fails on a batch of its labels and "
     "outputs (TypeError: one_argument() takes 1 positional argument but 2 were given); a loss "
     "is loss(y_true, y_pred) returning one value per example."),
    (["--losses=coarse=custom_losses:batch_mean"],
     None),  # broadcasts (23,) against (23, 20): fails, whatever TensorFlow's words
    (["--losses=coarse=custom_losses:NOT_A_FUNCTION"],
     "Loss 'custom_losses:NOT_A_FUNCTION' is not a function."),
], ids=["mse-multiclass", "bce-multiclass", "raises", "one-argument", "broadcast", "not-callable"])
def test_hierarchical_heads(run_flags, capsys, tmp_path, flags, expected):
    message = refusal(run_flags, capsys, tmp_path / "w", *SYNTHETIC, *flags)
    if expected is None:
        assert message.startswith("The loss 'custom_losses:batch_mean' of head 'coarse' fails on "
                                  "a batch of its labels and outputs ("), message
    else:
        assert message == expected


@pytest.fixture
def faces(tmp_path):
    faces_data.write_csv_folder(tmp_path, count=12)
    return tmp_path


@pytest.mark.parametrize("loss,expected", [
    ("age=sparse_categorical_crossentropy",
     "The loss 'sparse_categorical_crossentropy' does not fit head 'age', a regression head; the "
     "registered losses that fit it are huber, mae, mse (or give package.module:function of a "
     "loss of your own)."),
    ("gender=sparse_categorical_crossentropy",
     "The loss 'sparse_categorical_crossentropy' does not fit head 'gender', a binary head; the "
     "registered losses that fit it are binary_crossentropy, huber, mae, mse (or give "
     "package.module:function of a loss of your own)."),
    ("age=custom_losses:batch_mean",
     "The loss 'custom_losses:batch_mean' of head 'age' returns shape () for a batch of 4 "
     "examples; it must return one value per example, shape (4,): reduce over the other axes "
     "only."),
    ("tags=custom_losses:keeps_last_axis",
     "The loss 'custom_losses:keeps_last_axis' of head 'tags' returns shape (6, 3) for a batch "
     "of 6 examples; it must return one value per example, shape (6,): reduce over the other "
     "axes only."),
], ids=["scce-regression", "scce-binary", "scalar", "per-label"])
def test_heads_of_other_kinds(run_flags, capsys, faces, loss, expected):
    message = refusal(run_flags, capsys, faces / "w", *FACES, f"--csv={faces / 'labels.csv'}",
                      f"--losses={loss}")
    assert message == expected


def test_a_task_file_loss_is_checked_too(run_flags, capsys, faces):
    tasks_file = faces / "tasks.json"
    tasks_file.write_text('[{"name": "gender", "kind": "binary", "loss": "custom_losses:raises"}]')
    message = refusal(run_flags, capsys, faces / "w", *FACES[:-1], f"--csv={faces / 'labels.csv'}",
                      f"--tasks_file={tasks_file}")
    assert message.startswith("The loss 'custom_losses:raises' of head 'gender' fails on a batch")


def test_a_good_loss_passes_for_every_kind():
    for task in (tasks_lib.Task("fine", 7, loss="custom_losses:squared_error", kind="multilabel"),
                 tasks_lib.Task("age", kind="regression", loss="mae", target_std=12.0),
                 tasks_lib.Task("gender", kind="binary", loss="huber"),
                 tasks_lib.Task("race", 5)):
        losses.check_loss(task)
    with pytest.raises(errors.UserError, match="returns shape"):
        losses.check_loss(tasks_lib.Task("age", kind="regression",
                                         loss="custom_losses:keeps_last_axis"))
