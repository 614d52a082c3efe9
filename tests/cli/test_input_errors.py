"""Bad input found before training, whatever its source: absl's flag errors, empty splits,
--validation_size for every dataset, loss weights from --loss_weights and --tasks_file.
Each is one `error:` line, exit status 2, and no workdir."""

import json
import os
import subprocess
import sys

import pytest

import faces_data
from mtl_keras import cli
from helpers import REPO, error_lines, refusal, write_fashion_mnist_folder

SYNTHETIC = ["--synthetic", "--synthetic_examples=64", "--batch_size=16"]
FOLDER = ["--dataset=folder", "--trunk=simple_cnn", "--image_size=16", "--batch_size=4",
          "--epochs=1", "--warmup_epochs=0"]


# --------------------------------------------------------------------------- absl's flag errors

FLAG_ERRORS = {
    "unknown": (["--epoch=3"],
                "error: Unknown command line flag 'epoch'. Did you mean: epochs ? (--help lists "
                "the flags)."),
    "integer": (["--epochs=ten"],
                "error: flag --epochs=ten: invalid literal for int() with base 10: 'ten' (--help "
                "lists the flags)."),
    "enum": (["--optimizer=adam"],
             "error: flag --optimizer=adam: value should be one of <auto|sgd|adamw> (--help "
             "lists the flags)."),
    "bool": (["--noaugment=1"],
             "error: --noaugment=1 does not take an argument (--help lists the flags)."),
    "flagfile": (["--flagfile=missing.flags"],
                 "error: --flagfile=missing.flags cannot be read (No such file or directory); "
                 "check the path."),
}


@pytest.mark.parametrize("case", sorted(FLAG_ERRORS))
def test_flag_errors_are_one_line_and_exit_2(run_flags, tmp_path, monkeypatch, capsys, case):
    """In this process, as `python -m mtl_keras.run` runs the command; the process itself
    (its exit status, a stderr free of TensorFlow's lines): the test below."""
    flags, expected = FLAG_ERRORS[case]
    monkeypatch.chdir(tmp_path)
    assert cli.run_command("train", ["prog", *flags, f"--workdir={tmp_path / 'w'}"]) == 2
    assert error_lines(capsys.readouterr().err) == [expected]
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """`python -m mtl_keras.run` with a flag error, and with --help (as a user starts it,
    without TF_CPP_MIN_LOG_LEVEL), the two processes started at once, each in an empty
    folder: {name: (folder, exit status, stdout, stderr)}."""
    environment = {key: value for key, value in os.environ.items()
                   if key != "TF_CPP_MIN_LOG_LEVEL"}
    commands = {
        "flag error": ([*FLAG_ERRORS["unknown"][0], "--workdir=w"],
                       {**environment, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.pathsep.join(
                           filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}),
        "help": (["--help"], {**environment, "PYTHONPATH": str(REPO)}),
    }
    started = {}
    for name, (flags, env) in commands.items():
        folder = tmp_path_factory.mktemp(name.replace(" ", "_"))
        started[name] = folder, subprocess.Popen(
            [sys.executable, "-m", "mtl_keras.run", *flags], cwd=folder, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, (folder, process) in started.items():
        try:
            out, err = process.communicate(timeout=120)
        finally:
            process.kill()
        results[name] = folder, process.returncode, out, err
    return results


def test_a_flag_error_ends_the_process_with_status_2_and_one_line(processes):
    folder, status, _, stderr = processes["flag error"]
    assert status == 2, stderr
    assert error_lines(stderr) == [FLAG_ERRORS["unknown"][1]]
    assert os.listdir(folder) == []


def test_help_prints_the_flags_without_tensorflows_start_up_lines(processes):
    _, status, stdout, stderr = processes["help"]
    assert status == 0
    assert "--validation_size" in stdout and "--weighting" in stdout
    assert stderr == ""


# --------------------------------------------------------------------------- empty splits

@pytest.mark.parametrize("train,test,expected", [
    (0, 20, "The training split of fashion_mnist is empty; check the data's files or its split "
            "settings."),
    (40, 0, "The test split of fashion_mnist is empty; check the data's files or its split "
            "settings."),
], ids=["no-training-images", "no-test-images"])
def test_empty_split_of_a_dataset(run_flags, capsys, tmp_path, train, test, expected):
    folder = write_fashion_mnist_folder(tmp_path / "fm", train=train, test=test)
    assert refusal(run_flags, capsys, tmp_path / "w", "--dataset=fashion_mnist",
                   f"--data_dir={folder}", "--validation_size=0", "--batch_size=8",
                   "--trunk=simple_cnn", "--epochs=1", "--warmup_epochs=0") == expected


def test_split_column_without_test_rows(run_flags, capsys, tmp_path):
    rows = faces_data.write_csv_folder(tmp_path, count=12)
    for row in rows:
        row["split"] = "train"
    faces_data.write_rows(tmp_path / "labels.csv", rows, fields=(*faces_data.FIELDS, "split"))
    assert refusal(run_flags, capsys, tmp_path / "w", *FOLDER, "--validation_size=0",
                   f"--csv={tmp_path / 'labels.csv'}", "--tasks=age:regression") == (
        "The table gives 12 training and 0 test images; both need at least one (see the split "
        "column or --test_fraction).")


def test_head_without_a_test_label(run_flags, capsys, tmp_path):
    rows = faces_data.write_csv_folder(tmp_path, count=12)
    for index, row in enumerate(rows):
        row["split"] = "test" if index % 3 == 0 else "train"
        row["age"] = "" if row["split"] == "test" else row["age"]
    faces_data.write_rows(tmp_path / "labels.csv", rows, fields=(*faces_data.FIELDS, "split"))
    assert refusal(run_flags, capsys, tmp_path / "w", *FOLDER, "--validation_size=0",
                   f"--csv={tmp_path / 'labels.csv'}", "--tasks=age:regression,gender:binary") == (
        "Head 'age' has no known label in the test split, so it cannot be scored; label some of "
        "its test images.")


# --------------------------------------------------------------------------- --validation_size

def _dataset_flags(dataset, folder):
    """Flags of a small `dataset` written into `folder`; each has 64 training images or fewer."""
    if dataset == "cifar100":
        return SYNTHETIC
    if dataset == "fashion_mnist":
        return ["--dataset=fashion_mnist", f"--data_dir={write_fashion_mnist_folder(folder)}",
                "--batch_size=8"]
    if dataset == "utkface":
        faces_data.write_utkface_folder(folder, count=20)
        return [*FOLDER, "--dataset=utkface", f"--image_dir={folder}"]
    faces_data.write_csv_folder(folder, count=20)
    return [*FOLDER, f"--csv={folder / 'labels.csv'}", "--tasks=age:regression"]


@pytest.mark.parametrize("dataset,train", [("cifar100", 64), ("fashion_mnist", 40),
                                           ("folder", None), ("utkface", None)])
def test_validation_size_is_checked_alike_for_every_dataset(run_flags, capsys, tmp_path, dataset,
                                                            train):
    flags = _dataset_flags(dataset, tmp_path / "data")
    message = refusal(run_flags, capsys, tmp_path / "w", *flags, "--validation_size=1000")
    prefix, _, rest = message.partition(" training examples")
    assert prefix.startswith("--validation_size=1000 must be at least 0 and below the "), message
    assert rest == " (0: no validation split).", message
    if train is not None:
        assert prefix.endswith(f" {train}")
    assert refusal(run_flags, capsys, tmp_path / "w", *flags, "--validation_size=-2") == (
        "--validation_size must be 0 or more (or -1: chosen by the dataset's size), not -2.")


# --------------------------------------------------------------------------- loss weights

@pytest.mark.parametrize("weight,shown", [("NaN", "nan"), ("-Infinity", "-inf"), ("-0.5", "-0.5")])
def test_task_file_weights_are_checked_like_loss_weights(run_flags, capsys, tmp_path, weight,
                                                         shown):
    faces_data.write_csv_folder(tmp_path, count=8)
    tasks_file = tmp_path / "tasks.json"
    tasks_file.write_text(f'[{{"name": "gender", "kind": "binary", "weight": {weight}}}]')
    assert json.loads(tasks_file.read_text())  # Python's JSON reads NaN and Infinity
    flags = [*FOLDER, "--validation_size=0", f"--csv={tmp_path / 'labels.csv'}"]
    assert refusal(run_flags, capsys, tmp_path / "w", *flags, f"--tasks_file={tasks_file}") == (
        f"{tasks_file}: task 1 gives head 'gender' the weight {shown}; a loss weight is a finite "
        f"number, 0 or more.")
    assert refusal(run_flags, capsys, tmp_path / "w", *flags, "--tasks=gender:binary",
                   f"--loss_weights=gender={weight.lower()}") == (
        f"--loss_weights gives head 'gender' the weight {shown}; a loss weight is a finite "
        f"number, 0 or more.")
