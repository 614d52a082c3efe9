"""Predicting with a saved model: names from model.keras alone, images of any size, grey or
colour, converted as in training; the entry point's output and exit statuses."""

import json
import re
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import faces_data
from helpers import TrainFlags
from helpers import error_lines
from mtl_keras import errors
from mtl_keras import predictor
from mtl_keras import cli
from mtl_keras import tasks as tasks_lib
from mtl_keras.data.datasets import folder
from mtl_keras.data.images import convert as images_lib
from mtl_keras.data.labels import hierarchy as hierarchy_lib
from mtl_keras.models import build
from mtl_keras.models import trunks

FASHION = hierarchy_lib.load("fashion_mnist", ("fine", "mid", "coarse"))
FACE_TASKS = ("age:regression,gender:binary,race:multiclass:"
              + "|".join(faces_data.RACES) + ",tags:multilabel:" + "|".join(faces_data.TAGS))


def _train(parent, *flags):
    """Runs the training entry point in this process into parent/run; returns that folder."""
    workdir = parent / "run"
    run_flags = TrainFlags()
    try:
        run_flags(["prog", "--trunk=simple_cnn", "--epochs=1", "--batch_size=64",
                   "--validation_size=0", "--warmup_epochs=0", f"--workdir={workdir}", *flags])
        keras.backend.clear_session(free_memory=False)
        run_flags.main()
    finally:
        TrainFlags().unparse_flags()
    return workdir


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    """A synthetic Fashion-MNIST run: grey 28×28 images, three multiclass heads."""
    return _train(tmp_path_factory.mktemp("fashion"), "--dataset=fashion_mnist", "--synthetic",
                  "--synthetic_examples=256")


@pytest.fixture(scope="module")
def faces_run(tmp_path_factory):
    """A run on a CSV folder of 16×16 RGB images with a head of every kind."""
    images_dir = tmp_path_factory.mktemp("faces")
    faces_data.write_csv_folder(images_dir, count=96)
    return _train(images_dir, "--dataset=folder", f"--csv={images_dir / 'labels.csv'}",
                  f"--tasks={FACE_TASKS}", "--image_size=16", "--batch_size=32")


def _write(path, image):
    """Writes a uint8 H×W×C image as PNG or JPEG (by the suffix); returns the path."""
    encode = tf.io.encode_png if path.suffix == ".png" else tf.io.encode_jpeg
    path.write_bytes(encode(image).numpy())
    return path


def _names(items):
    """The names of a head's listed classes or labels, in their order."""
    return [item["name"] for item in items]


@pytest.fixture
def grey_and_colour(tmp_path):
    """A grey 45×37 PNG and a colour 50×64 JPEG: neither of any model's size."""
    rng = np.random.default_rng(3)
    return (_write(tmp_path / "grey.png", rng.integers(0, 256, (45, 37, 1), dtype=np.uint8)),
            _write(tmp_path / "colour.jpg", rng.integers(0, 256, (50, 64, 3), dtype=np.uint8)))


# --------------------------------------------------------------------------- the Python API

def test_names_and_probabilities_from_a_copy_of_model_keras_alone(fashion_run, grey_and_colour,
                                                                  tmp_path):
    copy = tmp_path / "elsewhere" / "renamed.keras"
    copy.parent.mkdir()
    shutil.copy(fashion_run / "model.keras", copy)
    loaded = predictor.load(copy)
    assert loaded.note == "" and loaded.image_shape == (28, 28, 1)
    assert [(task.name, task.kind, task.class_names) for task in loaded.tasks] == [
        (level, "multiclass", FASHION.class_names[level]) for level in FASHION.levels]
    answers = loaded.predict(list(grey_and_colour), top_k=None)
    assert len(answers) == 2
    for heads in answers:
        assert list(heads) == ["fine", "mid", "coarse"]
        for level, head in heads.items():
            assert head["kind"] == "multiclass"
            names = _names(head["classes"])
            probabilities = [item["probability"] for item in head["classes"]]
            assert sorted(names) == sorted(FASHION.class_names[level])
            assert probabilities == sorted(probabilities, reverse=True)
            assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
    top = loaded.predict(grey_and_colour[0], top_k=3)[0]["fine"]["classes"]
    assert _names(top) == _names(answers[0]["fine"]["classes"][:3])


def test_every_kind_answers_by_name(faces_run, grey_and_colour):
    loaded = predictor.load(faces_run)  # the run's folder: its model.keras
    assert loaded.image_shape == (16, 16, 3)
    grey_array = np.random.default_rng(4).integers(0, 256, (30, 20), dtype=np.uint8)  # H×W
    for heads in loaded.predict([*grey_and_colour, grey_array]):
        assert heads["age"]["kind"] == "regression" and np.isfinite(heads["age"]["value"])
        assert heads["gender"]["name"] == "1"  # the positive, second class (0/1 in the CSV)
        assert 0 <= heads["gender"]["probability"] <= 1
        race = heads["race"]["classes"]
        assert sorted(_names(race)) == sorted(faces_data.RACES)
        assert sum(item["probability"] for item in race) == pytest.approx(1.0, abs=1e-4)
        for label in heads["tags"]["labels"]:
            assert label["name"] in faces_data.TAGS and label["probability"] > 0.5


def test_images_of_the_models_size_are_answered_as_the_model_answers(faces_run, tmp_path):
    """Arrays and lossless files of the model's own size reach the model unchanged."""
    loaded = predictor.load(faces_run / "checkpoints" / "last.keras")  # checkpoints carry names
    assert loaded.note == ""
    images = np.random.default_rng(5).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    expected = loaded.model.predict(images, verbose=0)
    paths = [_write(tmp_path / f"{index}.png", image) for index, image in enumerate(images)]
    for given in (images, paths, list(images)):
        outputs = loaded.probabilities(given)
        for name, values in expected.items():
            np.testing.assert_allclose(outputs[name], values, rtol=1e-6, atol=1e-6)
    answer = loaded.predict(images[:1], top_k=1)[0]
    best = int(np.argmax(expected["race"][0]))
    assert _names(answer["race"]["classes"]) == [faces_data.RACES[best]]
    assert answer["race"]["classes"][0]["probability"] == pytest.approx(
        float(expected["race"][0, best]), rel=1e-4)
    assert answer["age"]["value"] == pytest.approx(float(expected["age"][0, 0]), rel=1e-4)


def test_files_are_read_as_the_folder_dataset_reads_them(faces_run, grey_and_colour):
    """The images a run on these files would train on are the ones its model is given."""
    loaded = predictor.load(faces_run)
    rows = [folder.Row(str(path), str(path), {}) for path in grey_and_colour]
    read, _, problems = loaded.read(grey_and_colour)
    assert problems == []
    np.testing.assert_array_equal(read, folder.decode_images(rows, 16))


def test_conversion_matches_training():
    """Grey ↔ RGB and resizing, in the one function the folder datasets also decode with."""
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (2, 20, 20, 1), dtype=np.uint8)
    np.testing.assert_array_equal(images_lib.fit(grey, 20, 20, 1).numpy(), grey)  # same size
    np.testing.assert_array_equal(images_lib.fit(grey, 20, 20, 3).numpy(), np.repeat(grey, 3, -1))
    colour = rng.integers(0, 256, (20, 20, 4), dtype=np.uint8)  # RGBA: alpha is dropped
    luma = colour[..., :3].astype(np.float64) @ [0.2989, 0.587, 0.114]
    np.testing.assert_allclose(images_lib.fit(colour, 20, 20, 1).numpy()[..., 0], luma, atol=0.51)
    smooth = np.add.outer(np.arange(20), np.arange(20)).astype(np.uint8)[None, :, :, None] * 6
    doubled = np.repeat(np.repeat(smooth, 2, 1), 2, 2)
    halved = images_lib.fit(doubled, 20, 20, 1).numpy()  # a 40×40 copy comes back close
    assert np.abs(halved.astype(int) - smooth)[:, 1:-1, 1:-1].max() <= 1


def test_answers_of_each_kind():
    output = np.array([0.1, 0.6, 0.1, 0.2], np.float32)
    race = tasks_lib.Task("race", 4, class_names=("a", "b", "c", "d"))
    assert predictor.answer(race, output, top_k=3)["classes"] == [
        {"name": "b", "probability": 0.6}, {"name": "d", "probability": 0.2},
        {"name": "a", "probability": 0.1}]  # ties keep the classes' order
    assert _names(predictor.answer(tasks_lib.Task("code", 4), output, top_k=0)["classes"]) == [
        "1", "3", "0", "2"]  # a Task made in code, without class names
    tags = tasks_lib.Task("tags", 4, class_names=("a", "b", "c", "d"), kind="multilabel")
    assert predictor.answer(tags, np.array([0.9, 0.5, 0.2, 0.7]))["labels"] == [
        {"name": "a", "probability": 0.9}, {"name": "d", "probability": 0.7}]
    flag = tasks_lib.Task("flag", 2, class_names=("no", "yes"), kind="binary")
    # The class predicted and its probability, whichever it is.
    assert predictor.answer(flag, np.array([0.25])) == {
        "kind": "binary", "name": "no", "probability": 0.75,
        "probabilities": {"no": 0.75, "yes": 0.25}}
    assert predictor.answer(flag, np.array([0.875]))["name"] == "yes"
    assert predictor.answer(flag, np.array([0.875]))["probability"] == 0.875
    assert predictor.to_text("coat.png", {"footwear": predictor.answer(flag, np.array([0.001]))}) == (
        "coat.png\n  footwear: no 0.999")
    assert predictor.answer(tasks_lib.Task("flag", kind="binary"), np.array([0.75]))["name"] == "1"
    assert predictor.to_text("x.png", {"tags": predictor.answer(tags, np.zeros(4))}) == (
        "x.png\n  tags: (no label above 0.5)")


def test_a_model_without_descriptions_answers_with_class_ids(tmp_path, grey_and_colour, capsys):
    """As saved before models carried their heads' names: each output's kind is inferred."""
    heads = (tasks_lib.Task("kind", 3), tasks_lib.Task("flag", 2, kind="binary"),
             tasks_lib.Task("size", kind="regression", target_mean=5.0, target_std=2.0),
             tasks_lib.Task("tags", 4, kind="multilabel"))
    images = keras.Input((8, 8, 3), dtype="uint8", name="image")
    features = trunks.simple_cnn(build.Standardize([0.5] * 3, [0.25] * 3)(images))
    model = keras.Model(images, {task.name: build._head(task, features) for task in heads})
    model.save(tmp_path / "old.keras")
    loaded = predictor.load(tmp_path / "old.keras")
    assert "does not name its classes" in loaded.note
    assert [(task.name, task.kind, task.class_names) for task in loaded.tasks] == [
        ("kind", "multiclass", ("0", "1", "2")), ("flag", "binary", ("0", "1")),
        ("size", "regression", ()), ("tags", "multilabel", ("0", "1", "2", "3"))]
    answer = loaded.predict(grey_and_colour[1], top_k=None)[0]
    assert sorted(_names(answer["kind"]["classes"])) == ["0", "1", "2"]
    assert answer["flag"]["name"] == "1" and np.isfinite(answer["size"]["value"])
    status, out, errors_seen = _predict(capsys, f"--workdir={tmp_path / 'old.keras'}",
                                        str(grey_and_colour[0]))
    assert status == 0 and out.startswith(f"{grey_and_colour[0]}\n  kind: ")
    assert errors_seen == [f"note: {loaded.note}"]


def test_bad_input_is_refused_in_one_sentence(fashion_run, tmp_path):
    loaded = predictor.load(fashion_run)
    cases = [
        (np.zeros((2, 28, 28, 1), np.float32), "Images are uint8 arrays (0 to 255), not float32"),
        (np.zeros((28, 28, 1), np.uint8), "An array of images is N×H×W or N×H×W×C; this one has shape"),
        ([np.zeros((28, 28, 2), np.uint8)], "shape (28, 28, 2) is not H×W or H×W×C with C 1, 3"),
        ([np.zeros((1, 28, 28, 1), np.uint8)], "shape (1, 28, 28, 1) is not H×W or H×W×C"),
        (tmp_path, f"{tmp_path} is not a file."),
        (tmp_path / "missing.png", "missing.png does not exist."),
    ]
    for images, message in cases:
        with pytest.raises(errors.UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            loaded.predict(images)
    with pytest.raises(errors.UserError, match="top_k is -1"):
        loaded.predict(np.zeros((1, 28, 28, 1), np.uint8), top_k=-1)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "model.keras.txt").write_text("")
    for path, message in [(tmp_path / "nowhere", "does not exist; give a run's folder"),
                          (tmp_path / "empty", "holds no model.keras; give a run's folder"),
                          (tmp_path / "empty" / "model.keras.txt", "is not a .keras file")]:
        with pytest.raises(errors.UserError, match=message):
            predictor.load(path)


def test_only_import_mtl_keras_to_load(faces_run, grey_and_colour):
    """`mtl_keras.load` needs no other import of ours, in a fresh interpreter, and neither
    the import nor the loading prints TensorFlow's C++ start-up lines."""
    script = ("import json, sys, mtl_keras\n"
              f"loaded = mtl_keras.load({str(faces_run)!r})\n"
              f"print(json.dumps(loaded.predict([{str(grey_and_colour[0])!r}])))\n")
    environment = {key: value for key, value in os.environ.items()
                   if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, check=False, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
    heads = json.loads(result.stdout.strip().splitlines()[-1])[0]
    assert heads["gender"]["name"] == "1"
    assert sorted(_names(heads["race"]["classes"])) == sorted(faces_data.RACES)


# --------------------------------------------------------------------------- the entry point

def _predict(capsys, *argv):
    """Runs the predict entry point in this process: (exit status, stdout, error lines)."""
    status = cli.run_command("predict", ["predict", *argv])
    out, err = capsys.readouterr()
    return status, out, error_lines(err)


def test_text_output_one_block_per_image(faces_run, grey_and_colour, capsys):
    status, out, errors_seen = _predict(capsys, f"--workdir={faces_run}", "--top_k=2",
                                        *map(str, grey_and_colour))
    assert (status, errors_seen) == (0, [])
    blocks = [block.splitlines() for block in out.strip().split("\n\n")]
    assert [block[0] for block in blocks] == [str(path) for path in grey_and_colour]
    for block in blocks:
        assert [line.split(":")[0] for line in block[1:]] == ["  age", "  gender", "  race",
                                                              "  tags"]
        # A binary head: the class it predicts, with that class's probability (0.5 or more).
        assert re.fullmatch(r"  gender: [01] (0\.[5-9]\d\d|1\.000)", block[2]), block[2]
        assert block[3].count(",") == 1


def test_unreadable_images_one_line_each_others_answered(faces_run, grey_and_colour, tmp_path,
                                                         capsys):
    (tmp_path / "text.png").write_text("not an image")
    pictures = tmp_path / "folder"
    pictures.mkdir()
    shutil.copy(grey_and_colour[1], pictures / "b.jpg")
    shutil.copy(grey_and_colour[0], pictures / "a.PNG")
    (pictures / "notes.txt").write_text("not listed: not an image suffix")
    status, out, errors_seen = _predict(
        capsys, f"--workdir={faces_run / 'model.keras'}", "--json", str(tmp_path / "missing.jpg"),
        str(grey_and_colour[0]), str(tmp_path / "text.png"), str(pictures))
    assert status == 2
    assert errors_seen == [
        f"note: {pictures / 'notes.txt'} is not a JPEG, PNG, GIF or BMP file by its name; skipped.",
        f"error: {tmp_path / 'missing.jpg'} does not exist.",
        f"error: {tmp_path / 'text.png'} cannot be read as JPEG, PNG, GIF or BMP."]
    document = json.loads(out)
    assert [entry["image"] for entry in document["images"]] == [
        str(grey_and_colour[0]), str(pictures / "a.PNG"), str(pictures / "b.jpg")]
    assert document["images"][0]["heads"]["race"]["kind"] == "multiclass"
    assert [entry["image"] for entry in document["errors"]] == [
        str(tmp_path / "missing.jpg"), str(tmp_path / "text.png")]
    assert [entry["file"] for entry in document["skipped"]] == [str(pictures / "notes.txt")]


def test_batches_of_grey_and_colour_images_as_arrays_and_npy_files(fashion_run, tmp_path, capsys):
    """(N, H, W), as keras.datasets.fashion_mnist gives them, (N, H, W, 1) and (N, H, W, 3):
    each image answered as the same image alone."""
    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    loaded = predictor.load(fashion_run)
    alone = [loaded.predict([image])[0] for image in grey]
    # The same answers; a batch may round a probability's last digit apart from an image
    # alone (the convolutions' float32 sums are ordered by the batch size).
    _assert_same_answers(loaded.predict(grey), alone)
    _assert_same_answers(loaded.predict(grey[..., None]), alone)
    # Grey repeated in three channels: RGB to grey by the luma weights gives it back.
    _assert_same_answers(loaded.predict(np.repeat(grey[..., None], 3, axis=-1)), alone)
    np.save(tmp_path / "batch.npy", grey)
    status, out, errors_seen = _predict(capsys, f"--workdir={fashion_run}", "--json",
                                        str(tmp_path / "batch.npy"))
    assert (status, errors_seen) == (0, [])
    images = json.loads(out)["images"]
    assert [entry["image"] for entry in images] == [f"{tmp_path / 'batch.npy'}[{index}]"
                                                    for index in range(3)]
    _assert_same_answers([entry["heads"] for entry in images], alone)


def _assert_same_answers(answers, expected):
    """The same structure, labels and kinds; every probability within 1e-5."""
    if isinstance(expected, dict):
        assert isinstance(answers, dict) and answers.keys() == expected.keys()
        for key, value in expected.items():
            _assert_same_answers(answers[key], value)
    elif isinstance(expected, list):
        assert isinstance(answers, list) and len(answers) == len(expected)
        for answer, value in zip(answers, expected):
            _assert_same_answers(answer, value)
    elif isinstance(expected, float):
        assert answers == pytest.approx(expected, abs=1e-5)
    else:
        assert answers == expected


@pytest.mark.parametrize("argv,message", [
    (["image.png"], "error: --workdir=RUN is required: a run's folder or a .keras file."),
    (["--workdir={missing}", "image.png"], "error: {missing} does not exist; give a run's folder"),
    (["--workdir={run}"], "error: Give one or more images or folders of images to predict."),
    (["--workdir={run}", "--top_k=-2", "image.png"], "error: flag --top_k=-2: -2 is not a"),
    (["--workdir={run}", "--epochs=3", "image.png"], "error: Unknown command line flag 'epochs'"),
    (["--workdir={run}", "{empty}"], "error: {empty} holds no .jpg, .jpeg, .png, .gif, .bmp image."),
])
def test_usage_errors_are_one_line_exit_2(fashion_run, tmp_path, capsys, argv, message):
    paths = {"run": fashion_run, "missing": tmp_path / "missing", "empty": tmp_path}
    status, out, errors_seen = _predict(capsys, *[arg.format(**paths) for arg in argv])
    assert (status, out) == (2, "")
    assert len(errors_seen) == 1
    assert errors_seen[0].startswith(message.format(**paths)), errors_seen


def test_the_console_script_predicts_after_the_word_predict(fashion_run, grey_and_colour,
                                                            monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["mtl-keras", "predict", f"--workdir={fashion_run}",
                                      str(grey_and_colour[1]), "--top_k=1"])
    with pytest.raises(SystemExit) as exit_info:
        cli.console_main()
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    lines = out.splitlines()
    assert lines[0] == str(grey_and_colour[1]) and len(lines) == 4
    assert lines[1].startswith("  fine: ") and lines[1].split(": ")[1].rsplit(" ", 1)[0] in \
        FASHION.class_names["fine"]
