"""A run's settings as command-line arguments and flagfiles, read and written without absl.

A flagfile holds one `--name=value` per line (`--name` / `--noname` for a yes-or-no field;
`#` and `//` start a comment line; `--flagfile=PATH` reads another file in its place, PATH as
given, relative to the working directory): what `mtl-keras train --flagfile=FILE` reads and
what a run writes as flags.txt. The library reads them here (a study's settings, a saved
run's flags.txt); the commands parse the same arguments with absl (`cli/training_flags.py`),
into the same `Config`.
"""

import dataclasses

from mtl_keras import config as config_lib
from mtl_keras import errors

_DEFAULTS = config_lib.Config()
NAMES = tuple(_DEFAULTS.to_dict())
# Fields given as NAME=VALUE,... lists: field → (parse, format).
MAPPINGS = {
    "loss_weights": (config_lib.parse_loss_weights, config_lib.format_numbers),
    "losses": (config_lib.parse_losses, config_lib.format_losses),
    "weighting_options": (lambda text: config_lib.parse_numbers(
        text, "--weighting_options", "c=0.4", "option"), config_lib.format_numbers),
    "architecture_options": (lambda text: config_lib.parse_numbers(
        text, "--architecture_options", "experts=4", "option"), config_lib.format_numbers),
}
_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")  # as absl reads a yes-or-no value


def value(name, raw):
    """A field's value from its text on the command line (lists parsed; others as given)."""
    return MAPPINGS[name][0](raw or "") if name in MAPPINGS else raw


def to_arguments(settings):
    """Command-line arguments (`--name=value`) that set the fields `settings` ({field: value})."""
    arguments = []
    for name, setting in settings.items():
        if name in MAPPINGS:
            arguments.append(f"--{name}={MAPPINGS[name][1](setting)}")
        elif isinstance(setting, bool):
            arguments.append(f"--{name}" if setting else f"--no{name}")
        else:
            arguments.append(f"--{name}={setting}")
    return arguments


def flagfile_text(config, command="mtl-keras train"):
    """A flagfile that reproduces `config` (every field but --workdir)."""
    lines = [f"# Reproduces this run: {command} --flagfile=THIS_FILE [--workdir=NEW_FOLDER]"]
    fields = {name: setting for name, setting in config.to_dict().items() if name != "workdir"}
    return "\n".join([*lines, *to_arguments(fields)]) + "\n"


def read_flagfile(path, arguments=()):
    """The `Config` of a training flagfile, followed by command-line `arguments`
    (`--name=value`, which win), as `mtl-keras train --flagfile=PATH ARGUMENTS` gives it.

    Raises:
      UserError: the file cannot be read, or holds a flag or value a run refuses.
    """
    return from_arguments([f"--flagfile={path}", *arguments])


def from_arguments(arguments):
    """The `Config` that training arguments give (later ones win; `--flagfile` expanded).

    Raises:
      UserError: an unreadable flagfile, an unknown flag, or a value the field refuses.
    """
    settings = {}
    for argument, where in _expanded(arguments, "the command line", ()):
        name, setting = _parse(argument, where)
        settings[name] = setting
    return dataclasses.replace(_DEFAULTS, **settings)


def _expanded(arguments, where, reading):
    """(argument, where it comes from) with each `--flagfile=PATH` replaced by its lines."""
    for argument in arguments:
        if not argument.startswith("--flagfile="):
            yield argument, where
            continue
        path = argument[len("--flagfile="):]
        if path in reading:
            raise errors.UserError(f"--flagfile={path} reads itself (through {where}).")
        try:
            with open(path, encoding="utf-8") as flagfile:
                lines = [line.strip() for line in flagfile]
        except OSError as error:
            raise errors.UserError(f"--flagfile={path} cannot be read ({error.strerror}); check "
                                   f"the path.") from None
        lines = [line for line in lines if line and not line.startswith(("#", "//"))]
        yield from _expanded(lines, path, (*reading, path))


def _parse(argument, where):
    """(field, value) of one `--name=value` / `--name` / `--noname` argument."""
    if not argument.startswith("-"):
        raise errors.UserError(f"{argument!r} in {where} is not a flag; flags look like "
                               f"--name=value.")
    name, has_value, raw = argument.lstrip("-").partition("=")
    negated = name.startswith("no") and isinstance(getattr(_DEFAULTS, name[2:], None), bool)
    if name not in NAMES and not negated:
        raise errors.UserError(f"Unknown flag --{name} in {where}; `mtl-keras train --help` "
                               f"lists the flags.")
    default = getattr(_DEFAULTS, name[2:] if negated and name not in NAMES else name)
    if isinstance(default, bool):
        if negated and name not in NAMES:
            if has_value:
                raise errors.UserError(f"--{name} in {where} takes no value.")
            return name[2:], False
        if not has_value:
            return name, True
        if raw.lower() not in (*_TRUE, *_FALSE):
            raise errors.UserError(f"--{name}={raw} in {where}: give true or false.")
        return name, raw.lower() in _TRUE
    if not has_value:
        raise errors.UserError(f"--{name} in {where} needs a value: --{name}=VALUE.")
    if name in MAPPINGS or isinstance(default, str):
        return name, value(name, raw)
    kind = type(default)
    try:
        return name, kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise errors.UserError(f"--{name}={raw} in {where}: give {what}.") from None
