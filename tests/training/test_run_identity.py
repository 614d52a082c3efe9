"""A run resumes only on the data it started on: its folder keeps the data's fingerprint
(data.json), and the same command on changed labels, images or splits is refused with
one line naming what changed. A lost flags.txt is put back by the resumed run.

The checks happen in `prepare`, before anything is written; the runs here are prepared
(data loaded, folder checked) without training, and the folder of an unfinished run is
what a run writes before its first step."""

import os

import labelled_folder
import numpy as np
import pytest
from helpers import error_lines, run_main
from PIL import Image

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import flagfiles
from mtl_keras.training import preparation
from mtl_keras.training import workdir as workdir_lib

COUNTS = {"train": 24, "validation": 8, "test": 8}


@pytest.fixture
def folder(tmp_path):
    labelled_folder.write(tmp_path / "faces", COUNTS)
    return tmp_path / "faces"


def _config(folder, workdir):
    return config_lib.Config(dataset="folder", csv=str(folder / "labels.csv"),
                             tasks=labelled_folder.TASKS, image_size=8, trunk="simple_cnn",
                             batch_size=8, epochs=2, workdir=str(workdir))


def _start(folder, workdir):
    """Prepares a run and writes what it writes before training: an unfinished run."""
    config = _config(folder, workdir)
    experiment = preparation.prepare(config, str(workdir))
    workdir_lib.write_missing(str(workdir), experiment.config, experiment.fingerprint,
                              flagfiles.flagfile_text(config))
    return experiment


def _refusal(folder, workdir):
    with pytest.raises(errors.UserError) as raised:
        preparation.prepare(_config(folder, workdir), str(workdir))
    return str(raised.value)


def _rewrite_csv(folder, edit):
    path = folder / "labels.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def test_the_same_data_resumes(folder, tmp_path):
    workdir = tmp_path / "run"
    first = _start(folder, workdir)
    again = preparation.prepare(_config(folder, workdir), str(workdir))
    assert again.resumes and again.fingerprint == first.fingerprint


def _change_label(lines):
    # Row 2 (image 001) has a known age (every third from 000 is unknown): 20..79 → 99.
    cells = lines[2].split(",")
    assert cells[0] == "img/001.bmp" and cells[1]
    cells[1] = "99"
    return [*lines[:2], ",".join(cells), *lines[3:]]


def test_changed_labels_are_refused_naming_them(folder, tmp_path):
    workdir = tmp_path / "run"
    _start(folder, workdir)
    _rewrite_csv(folder, _change_label)
    message = _refusal(folder, workdir)
    assert message == (f"--workdir={workdir} holds an unfinished run that trained on other data: "
                       f"the labels changed since it started; pass a new --workdir to start "
                       f"afresh, or give it back the data it started on to resume it.")


def test_a_changed_image_file_is_refused(folder, tmp_path):
    workdir = tmp_path / "run"
    _start(folder, workdir)
    path = folder / "img" / "000.png"
    pixels = np.asarray(Image.open(path)).copy()
    pixels[0, 0] ^= 255
    Image.fromarray(pixels).save(path)
    assert "trained on other data: the images changed since" in _refusal(folder, workdir)


def test_a_removed_row_is_refused_naming_the_split_sizes(folder, tmp_path):
    workdir = tmp_path / "run"
    _start(folder, workdir)
    _rewrite_csv(folder, lambda lines: lines[:-1])  # the last test row
    message = _refusal(folder, workdir)
    assert ("the split sizes (was train 24, validation 8, test 8; now train 24, validation 8, "
            "test 7), the labels, the images changed since it started") in message


def test_a_damaged_fingerprint_is_refused_with_the_way_out(folder, tmp_path):
    workdir = tmp_path / "run"
    _start(folder, workdir)
    (workdir / "data.json").write_text('{"labels": ', encoding="utf-8")
    assert _refusal(folder, workdir) == (
        f"{workdir / 'data.json'} is damaged, so this run's data cannot be checked; remove that "
        f"file to resume the run on the data given now, or pass a new --workdir.")
    os.remove(workdir / "data.json")
    assert preparation.prepare(_config(folder, workdir), str(workdir)).resumes


def test_the_command_refuses_changed_data_with_one_line(folder, tmp_path, run_flags, capsys):
    workdir = tmp_path / "run"
    _start(folder, workdir)
    before = sorted(os.listdir(workdir))
    _rewrite_csv(folder, _change_label)
    status = run_main(run_flags, "--dataset=folder", f"--csv={folder / 'labels.csv'}",
                      f"--tasks={labelled_folder.TASKS}", "--image_size=8", "--trunk=simple_cnn",
                      "--batch_size=8", "--epochs=2", f"--workdir={workdir}")
    lines = error_lines(capsys.readouterr().err)
    assert status == 2
    assert len(lines) == 1 and "the labels changed since it started" in lines[0]
    assert sorted(os.listdir(workdir)) == before


def test_a_lost_flagfile_is_put_back_on_resume(folder, tmp_path):
    workdir = tmp_path / "run"
    _start(folder, workdir)
    written = (workdir / "flags.txt").read_text(encoding="utf-8")
    os.remove(workdir / "flags.txt")
    _start(folder, workdir)
    assert (workdir / "flags.txt").read_text(encoding="utf-8") == written
    assert f"--csv={folder / 'labels.csv'}" in written.splitlines()
