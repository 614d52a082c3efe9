"""flags.txt reproduces a run: flags → Config → flagfiles.flagfile_text → --flagfile → the same
Config, whether the command reads it (absl) or the library (`flagfiles.read_flagfile`)."""

import dataclasses
import re

import pytest

from mtl_keras import errors
from mtl_keras import flagfiles
from mtl_keras.config import Config
from mtl_keras.training import runner

from helpers import SMOKE_FLAGS


def _config(flags, argv):
    flags.unparse_flags()
    flags(["prog", *argv])
    return flags.config()


def test_defaults_give_the_default_config(run_flags):
    assert _config(run_flags, []) == Config()


def test_smoke_flagfile_with_overrides_round_trips(run_flags, tmp_path):
    original = _config(run_flags, [
        f"--flagfile={SMOKE_FLAGS}",
        "--loss_weights=fine=1.0,coarse=0.5",
        "--noaugment",
        "--epochs=3",
        "--learning_rate=0.0003",
        "--experiment=round trip",
        "--data_dir=/data/tfds",
        f"--workdir={tmp_path / 'run1'}",
    ])
    # The overrides and the flagfile both took effect (later flags win).
    assert original.loss_weights == {"fine": 1.0, "coarse": 0.5}
    assert original.augment is False
    assert original.synthetic is True and original.synthetic_examples == 4096
    assert (original.epochs, original.learning_rate, original.warmup_epochs) == (3, 0.0003, 0.5)
    assert original.trunk == "simple_cnn" and original.optimizer == "adamw"
    assert original.experiment == "round trip" and original.data_dir == "/data/tfds"
    assert original.workdir == str(tmp_path / "run1")

    text = flagfiles.flagfile_text(original)
    assert text.startswith("# Reproduces this run:")
    assert not [line for line in text.splitlines() if line.startswith("--workdir")]
    assert "--noaugment" in text.splitlines()
    assert "--loss_weights=fine=1.0,coarse=0.5" in text.splitlines()
    flags_file = tmp_path / "flags.txt"
    flags_file.write_text(text, encoding="utf-8")

    reparsed = _config(run_flags, [f"--flagfile={flags_file}"])
    assert reparsed == dataclasses.replace(original, workdir="")
    # A new workdir given after the flagfile is the only difference.
    again = _config(run_flags, [f"--flagfile={flags_file}", f"--workdir={tmp_path / 'run2'}"])
    assert again == dataclasses.replace(original, workdir=str(tmp_path / "run2"))
    # The library reads the same files to the same Config (a study's settings, flags.txt).
    assert flagfiles.read_flagfile(str(flags_file)) == reparsed
    assert flagfiles.read_flagfile(str(flags_file), [f"--workdir={tmp_path / 'run2'}"]) == again


def test_every_config_field_is_written(run_flags, tmp_path):
    config = _config(run_flags, ["--synthetic", "--deterministic", "--mixed_precision=true",
                                 "--strategy=mirrored", "--jit_compile=false", "--seed=3",
                                 "--schedule=onecycle", "--optimizer=sgd", "--momentum=0.8",
                                 "--weight_decay=0", "--validation_size=0", "--batch_size=96",
                                 "--archive=/x/cifar-100-binary.tar.gz"])
    text = flagfiles.flagfile_text(config)
    written = {line.lstrip("-").split("=")[0] for line in text.splitlines() if line.startswith("--")}
    expected = set(Config().to_dict()) - {"workdir"}
    # booleans are written as --name / --noname
    written = {name[2:] if name.startswith("no") and name[2:] in expected else name
               for name in written}
    assert written == expected
    flags_file = tmp_path / "flags.txt"
    flags_file.write_text(text, encoding="utf-8")
    assert _config(run_flags, [f"--flagfile={flags_file}"]) == config
    assert flagfiles.read_flagfile(str(flags_file)) == config


def test_flag_values_do_not_leak_between_parses(run_flags):
    assert _config(run_flags, ["--epochs=7", "--noaugment"]).epochs == 7
    fresh = _config(run_flags, [])
    assert fresh.epochs == Config().epochs and fresh.augment is True


def test_bad_flag_values_are_user_errors(run_flags):
    run_flags(["prog", "--loss_weights=fine"])
    with pytest.raises(errors.UserError, match="is not NAME=NUMBER"):
        run_flags.config()
    run_flags.unparse_flags()
    run_flags(["prog", "--epochs=0"])
    with pytest.raises(errors.UserError, match="--epochs must be at least 1"):
        run_flags.config()


def test_enum_flags_are_checked_by_absl(run_flags):
    from absl import flags

    with pytest.raises(flags.IllegalFlagValueError):
        run_flags(["prog", "--optimizer=adam"])


def test_default_workdir_names_the_experiment():
    assert re.fullmatch(r"runs/cifar100_resnet20-\d{8}-\d{6}", runner.default_workdir(Config()))
    assert re.fullmatch(r"runs/smoke-\d{8}-\d{6}", runner.default_workdir(Config(experiment="smoke")))


def test_the_library_reads_arguments_as_the_command_does(run_flags, tmp_path):
    """Every form a flag takes on a line, read by absl (the command) and by the library."""
    inner = tmp_path / "inner.flags"
    inner.write_text("# a comment\n// another\n\n  --epochs=9\n--nosynthetic\n")
    arguments = [f"--flagfile={inner}", "--epochs=4", "--synthetic", "--augment=false",
                 "--deterministic=True", "--learning_rate=0.05", "--loss_weights=fine=2",
                 "--strategy=mirrored", "--experiment=a b"]
    expected = _config(run_flags, arguments)
    assert (expected.epochs, expected.synthetic, expected.augment) == (4, True, False)
    assert flagfiles.from_arguments(arguments) == expected


@pytest.mark.parametrize("arguments, message", [
    (["--epoch=3"], "Unknown flag --epoch in the command line"),
    (["--epochs=three"], "--epochs=three in the command line: give a whole number"),
    (["--epochs"], "--epochs in the command line needs a value"),
    (["--augment=maybe"], "--augment=maybe in the command line: give true or false"),
    (["--noaugment=true"], "--noaugment in the command line takes no value"),
    (["--strategy=many"], "--strategy=many is not one of"),
    (["epochs=3"], "'epochs=3' in the command line is not a flag"),
    (["--flagfile=/nonexistent/x.flags"], "--flagfile=/nonexistent/x.flags cannot be read"),
])
def test_the_library_refuses_what_the_command_refuses(arguments, message):
    with pytest.raises(errors.UserError, match=re.escape(message)):
        flagfiles.from_arguments(arguments)


def test_a_flagfile_that_reads_itself_is_refused(tmp_path):
    loop = tmp_path / "loop.flags"
    loop.write_text(f"--epochs=2\n--flagfile={loop}\n")
    with pytest.raises(errors.UserError, match="reads itself"):
        flagfiles.read_flagfile(str(loop))
