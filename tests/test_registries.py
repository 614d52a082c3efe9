"""One registry type for every axis: each entry has a description, checked options, and a
place in the documentation that names it; the flag help lists what is registered."""

import contextlib
import io
import math
import pathlib

import pytest

import mtl_keras
from mtl_keras import cli
from mtl_keras import errors
from mtl_keras import heads
from mtl_keras import registry

REPO = pathlib.Path(mtl_keras.__file__).resolve().parents[1]
REGISTRIES = {"trunk": mtl_keras.TRUNKS, "dataset": mtl_keras.DATASETS,
              "architecture": mtl_keras.ARCHITECTURES, "weighting": mtl_keras.METHODS,
              "protocol": mtl_keras.PROTOCOLS, "head kind": heads.KINDS, "loss": heads.LOSSES}
# Where the flag's help lists the registry's names.
FLAGS = {"trunk": "--trunk", "dataset": "--dataset", "architecture": "--architecture",
         "weighting": "--weighting", "protocol": "--protocol"}


@pytest.mark.parametrize("axis", sorted(REGISTRIES))
def test_every_entry_is_described_and_documented(axis):
    entries = REGISTRIES[axis].entries()
    assert entries
    for entry in entries:
        if axis != "loss":  # a loss is a Keras function: its name says it
            assert entry.description and "\n" not in entry.description, entry.name
        document = (REPO / entry.docs.partition("#")[0]).read_text(encoding="utf-8")
        # `name` itself, or `name:...` (tfds:NAME)
        assert f"`{entry.name}`" in document or f"`{entry.name}:" in document, (entry.name,
                                                                                entry.docs)
        for option in entry.options.values():
            assert isinstance(option, registry.Option) and option.description


@pytest.mark.parametrize("axis", sorted(FLAGS))
def test_the_flag_help_lists_what_is_registered(axis):
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        cli.main(["mtl-keras", "train", "--help"])
    flag_help = text.getvalue().split(f"{FLAGS[axis]}:")[1].split("\n  --")[0]
    for entry in REGISTRIES[axis].entries():
        assert entry.name in " ".join(flag_help.split()), entry.name


@pytest.mark.parametrize("value,message", [
    (math.nan, "must be a number from 0 to 10"), (math.inf, "must be a number from 0 to 10"),
    (-1, "must be a number from 0 to 10"), ("x", "must be a number"),
])
def test_one_checker_refuses_what_is_not_a_finite_allowed_number(value, message):
    with pytest.raises(errors.UserError, match=message):
        mtl_keras.METHODS.options("cagrad", {"c": value})


def test_counts_are_whole_and_bounded():
    assert mtl_keras.ARCHITECTURES.options("mmoe", {"experts": 3.0}) == {"experts": 3}
    for value in (2.5, 0, 1e30):
        with pytest.raises(errors.UserError, match="experts must be a whole number from 1 to 64"):
            mtl_keras.ARCHITECTURES.options("mmoe", {"experts": value})
    with pytest.raises(errors.UserError, match="rescale must be one of 0, 1, 2"):
        mtl_keras.METHODS.options("cagrad", {"rescale": 3})
    with pytest.raises(errors.UserError, match="which --weighting=dwa does not have; its options "
                                               "are: temperature \\(default 2\\)"):
        mtl_keras.METHODS.options("dwa", {"temprature": 1})


def test_a_registry_refuses_a_name_twice_and_names_the_known_ones():
    axis = registry.Registry("probe")
    axis.add("a", object(), description="the first")
    with pytest.raises(ValueError, match="registered twice"):
        axis.add("a", object())
    with pytest.raises(errors.UserError, match="Unknown probe 'b'; choose one of: a."):
        axis.get("b")
    assert axis.help() == "a (the first)"
