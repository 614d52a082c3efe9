"""The training flags of the commands: the `Config` fields as absl flags.

Defines them on a `flags.FlagValues` that the command owns (the `train` and `study`
commands each have their own, never absl's global FLAGS), with help listing what the
registries hold, and turns parsed flags into a `Config`. The library reads the same
arguments and flagfiles without absl (`mtl_keras.flagfiles`).
"""

from absl import flags

from mtl_keras import config as config_lib
from mtl_keras import flag_help
from mtl_keras import flagfiles
from mtl_keras.data import source
from mtl_keras.methods import base as methods_base
from mtl_keras.models import architectures
from mtl_keras.models import trunks
from mtl_keras.protocols import base as protocols_base

_DEFAULTS = config_lib.Config()
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
        shown = (default if name not in flagfiles.MAPPINGS else "") if defaults else None
        text = help_text(name)
        if name in flagfiles.MAPPINGS:
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


def to_config(flag_values):
    """The `Config` that the parsed `flag_values` (defined by `define`) describe.

    Raises:
      UserError: a value the `Config` refuses.
    """
    return config_lib.Config(**{name: flagfiles.value(name, flag_values[name].value)
                                for name in flagfiles.NAMES})


def given(flag_values):
    """{field: value} of the training flags present on the command line (for overrides)."""
    return {name: flagfiles.value(name, flag_values[name].value) for name in flagfiles.NAMES
            if flag_values[name].present}
