"""A run's settings on a command line: the `Config` fields as absl flags, and flagfiles.

Library code: it defines the training flags on a `flags.FlagValues` that the caller owns
(the `train` and `study` commands each have their own, never absl's global FLAGS), turns
parsed flags into a `Config`, writes a `Config` as the flagfile that reproduces it
(flags.txt), and reads such a flagfile back.
"""

from absl import flags

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import flag_help
from mtl_keras.data import source
from mtl_keras.methods import base as methods_base
from mtl_keras.models import architectures
from mtl_keras.models import trunks
from mtl_keras.protocols import base as protocols_base

_DEFAULTS = config_lib.Config()
# Fields given on the command line as NAME=VALUE,... lists: field → (parse, format).
_MAPPINGS = {
    "loss_weights": (config_lib.parse_loss_weights, config_lib.format_numbers),
    "losses": (config_lib.parse_losses, config_lib.format_losses),
    "weighting_options": (lambda text: config_lib.parse_numbers(
        text, "--weighting_options", "c=0.4", "option"), config_lib.format_numbers),
    "architecture_options": (lambda text: config_lib.parse_numbers(
        text, "--architecture_options", "experts=4", "option"), config_lib.format_numbers),
}
NAMES = tuple(_DEFAULTS.to_dict())
# Fields that name a registered entry: their help lists the registry's names.
_CHOOSERS = {"dataset": source.DATASETS, "trunk": trunks.TRUNKS,
             "architecture": architectures.ARCHITECTURES, "weighting": methods_base.METHODS,
             "protocol": protocols_base.PROTOCOLS}
_OPTIONS = {"architecture_options": architectures.ARCHITECTURES,
            "weighting_options": methods_base.METHODS}


def help_text(name):
    """The help of the training flag `name`: its text, and for the flags that choose a
    registered entry (or set its options) what the registry holds."""
    text = flag_help.RUN[name]
    if name in _CHOOSERS:
        return f"{text} Registered: {_CHOOSERS[name].help()}."
    if name in _OPTIONS:
        per_entry = [f"{entry.name}: " + ", ".join(f"{option} ({spec.default:g})"
                                                   for option, spec in entry.options.items())
                     for entry in _OPTIONS[name].entries() if entry.options]
        return f"{text} Options: {'; '.join(per_entry)}."
    return text


def define(flag_values, defaults=True):
    """Defines one flag per `Config` field on `flag_values`, with its help text.

    Args:
      flag_values: an `absl.flags.FlagValues` the caller owns.
      defaults: False defines every flag without a default (None), for commands whose
        training flags only override what a flagfile says (the study's).
    """
    for name, default in _DEFAULTS.to_dict().items():
        shown = (default if name not in _MAPPINGS else "") if defaults else None
        text = help_text(name)
        if name in _MAPPINGS:
            flags.DEFINE_string(name, shown, text, flag_values=flag_values)
        elif name in config_lib.CHOICES:
            flags.DEFINE_enum(name, shown, config_lib.CHOICES[name], text, flag_values=flag_values)
        elif isinstance(default, bool):
            flags.DEFINE_bool(name, shown, text, flag_values=flag_values)
        elif isinstance(default, int):
            flags.DEFINE_integer(name, shown, text, flag_values=flag_values)
        elif isinstance(default, float):
            flags.DEFINE_float(name, shown, text, flag_values=flag_values)
        else:
            flags.DEFINE_string(name, shown, text, flag_values=flag_values)


def _value(name, raw):
    """A flag's parsed value as the `Config` field wants it."""
    return _MAPPINGS[name][0](raw or "") if name in _MAPPINGS else raw


def to_config(flag_values):
    """The `Config` that the parsed `flag_values` (defined by `define`) describe.

    Raises:
      UserError: a value the `Config` refuses.
    """
    return config_lib.Config(**{name: _value(name, flag_values[name].value) for name in NAMES})


def given(flag_values):
    """{field: value} of the training flags present on the command line (for overrides)."""
    return {name: _value(name, flag_values[name].value) for name in NAMES
            if flag_values[name].present}


def to_arguments(settings):
    """Command-line arguments (`--name=value`) that set the fields `settings` ({field: value})."""
    arguments = []
    for name, value in settings.items():
        if name in _MAPPINGS:
            arguments.append(f"--{name}={_MAPPINGS[name][1](value)}")
        elif isinstance(value, bool):
            arguments.append(f"--{name}" if value else f"--no{name}")
        else:
            arguments.append(f"--{name}={value}")
    return arguments


def flagfile_text(config, command="mtl-keras train"):
    """A flagfile that reproduces `config` (every field but --workdir)."""
    lines = [f"# Reproduces this run: {command} --flagfile=THIS_FILE [--workdir=NEW_FOLDER]"]
    fields = {name: value for name, value in config.to_dict().items() if name != "workdir"}
    return "\n".join([*lines, *to_arguments(fields)]) + "\n"


def read_flagfile(path, arguments=()):
    """The `Config` of a training flagfile, followed by command-line `arguments`
    (`--name=value`), parsed as `mtl-keras train --flagfile=PATH ARGUMENTS` parses them.

    Raises:
      UserError: the file cannot be read, or holds a flag or value a run refuses.
    """
    flag_values = flags.FlagValues()
    define(flag_values)
    parse(flag_values, ["prog", f"--flagfile={path}", *arguments])
    return to_config(flag_values)


def parse(flag_values, argv, hint=" (--help lists the flags)"):
    """Parses `argv` into `flag_values` from their defaults; returns the arguments left over.

    absl's own messages become one `UserError` sentence: a missing flagfile names its path.

    Raises:
      UserError: an unknown flag, a bad value, or an unreadable flagfile.
    """
    flag_values.unparse_flags()
    try:
        return flag_values(argv)[1:]
    except flags.CantOpenFlagFileError as error:
        cause = error.__context__  # the OSError that absl reworded
        if isinstance(cause, OSError) and cause.filename:
            raise errors.UserError(f"--flagfile={cause.filename} cannot be read "
                                   f"({cause.strerror}); check the path.") from None
        raise errors.UserError(str(error)) from None
    except (flags.Error, ValueError) as error:  # absl raises ValueError for --noBOOL=value
        raise errors.UserError(f"{' '.join(str(error).split())}{hint}.") from None
