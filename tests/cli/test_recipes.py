"""Recipes travel with the package: the flagfiles of experiments/ are package data, and
`mtl-keras train --recipe=NAME` runs one from any folder."""

import shutil
import subprocess
import sys
import zipfile

from helpers import REPO
from mtl_keras import cli
from mtl_keras import recipes
from absl import flags

from mtl_keras import flagfiles
from mtl_keras.cli import common
from mtl_keras.cli import training_flags


def test_experiments_flagfiles_are_the_recipes_one_copy():
    """experiments/NAME.flags (the Makefile's) are links to the package's files."""
    linked = sorted(path.stem for path in (REPO / "experiments").glob("*.flags"))
    assert linked == recipes.names() and "fashion_mnist_mtl" in linked
    for name in linked:
        path = REPO / "experiments" / f"{name}.flags"
        assert path.is_symlink() and path.resolve() == (REPO / "mtl_keras" / "recipes"
                                                       / f"{name}.flags").resolve()


def test_a_recipe_is_its_flagfile_layers_included(tmp_path, monkeypatch):
    """--recipe=NAME gives the Config of --flagfile=experiments/NAME.flags in the clone,
    also elsewhere (no experiments/ there) for a recipe that reads another (--flagfile
    inside it); flags after it override it."""
    monkeypatch.chdir(REPO)  # where experiments/ resolves
    expected = {name: flagfiles.read_flagfile(f"experiments/{name}.flags", ["--epochs=2"])
                for name in recipes.names()}
    monkeypatch.chdir(tmp_path)
    for name in recipes.names():
        flag_values = flags.FlagValues()
        training_flags.define(flag_values)
        common.parse_flags(flag_values, ["prog", *recipes.arguments(name), "--epochs=2"])
        assert training_flags.to_config(flag_values) == expected[name], name
        assert expected[name].epochs == 2
    assert "--flagfile=experiments/multi_fashion.flags" in (
        REPO / "experiments" / "multi_fashion_methods.flags").read_text()


def test_the_wheel_holds_the_recipes(tmp_path):
    source = tmp_path / "source"
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name if source.exists() else _mkdir(source) / name)
    shutil.copytree(REPO / "mtl_keras", source / "mtl_keras",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(source)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".flags")}
    assert shipped == {f"mtl_keras/recipes/{name}.flags" for name in recipes.names()}


def _mkdir(path):
    path.mkdir()
    return path


def test_recipe_alone_lists_them_and_an_unknown_one_is_refused(capsys):
    assert cli.run_command("train", ["train", "--recipe"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist_mtl  " in out and all(name in out for name in recipes.names())
    assert cli.run_command("train", ["train", "--recipe=fashion"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: There is no recipe 'fashion'; the recipes are cifar100_mtl, ")
