"""One registry type for every axis: trunks, datasets, losses, metrics, head kinds, methods,
architectures and protocols.

An entry is a name, the registered object, a one-line description (by default the first
line of the object's docstring), its options (`Option`: default, description, allowed
range; by default the object's `HYPERPARAMETERS`) and where it is documented. Options are
checked in one place (`Registry.options`); flag help and the documentation's tables of
names are made from the entries (`Registry.help`, tests/test_registries.py).
"""

import dataclasses
import inspect
import math

from mtl_keras import errors


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a registered entry (a method's or an architecture's hyperparameter).

    Attributes:
      default: its value when not given.
      description: what it is, in one line.
      minimum, maximum: its allowed range (inclusive).
      whole: whether it is a count (given as a whole number, passed on as an int).
      choices: when not empty, the only allowed values.
    """

    default: float
    description: str
    minimum: float = -math.inf
    maximum: float = math.inf
    whole: bool = False
    choices: tuple = ()

    def check(self, name, value, flag):
        """`value` as the entry receives it (int when whole).

        Raises:
          UserError: a value that is not a finite number, out of range, not whole, or not
            one of the choices.
        """
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = math.nan
        if self.choices:
            if value not in self.choices:
                raise errors.UserError(
                    f"{flag}: {name} must be one of {', '.join(f'{c:g}' for c in self.choices)} "
                    f"({self.description}), not {value:g}.")
        elif (not math.isfinite(value) or not self.minimum <= value <= self.maximum
              or (self.whole and value != int(value))):
            kind = "a whole number" if self.whole else "a number"
            if math.isfinite(self.maximum) and math.isfinite(self.minimum):
                bound = f" from {self.minimum:g} to {self.maximum:g}"
            elif math.isfinite(self.minimum):
                bound = f" of at least {self.minimum:g}"
            else:
                bound = f" of at most {self.maximum:g}" if math.isfinite(self.maximum) else ""
            raise errors.UserError(f"{flag}: {name} must be {kind}{bound} ({self.description}), "
                                   f"not {value:g}.")
        return int(value) if self.whole or (self.choices and value == int(value)) else value


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered object with what the registry knows of it (see the module docstring)."""

    name: str
    value: object
    description: str
    options: dict
    docs: str


def resolve_options(known, given, flag, owner):
    """Options: the defaults of `known` ({option: Option}) updated with `given`, all checked.

    Args:
      known: the entry's options.
      given: {option: value} the user gave.
      flag: the flag that gives them, for messages ("--weighting_options").
      owner: what they belong to, for messages ("--weighting=dwa").

    Raises:
      UserError: an option the entry does not have, or a value it does not allow.
    """
    unknown = sorted(set(given) - set(known))
    if unknown:
        choices = ", ".join(f"{option} (default {spec.default:g})"
                            for option, spec in known.items())
        raise errors.UserError(f"{flag} names {', '.join(unknown)}, which {owner} does not "
                               f"have; its options are: {choices or 'none'}.")
    return {option: spec.check(option, given.get(option, spec.default), flag)
            for option, spec in known.items()}


def first_line(obj):
    """The first line of `obj`'s docstring, or ""."""
    doc = inspect.getdoc(obj) if obj is not None else None
    return doc.strip().splitlines()[0].rstrip(".") if doc else ""


class Registry:
    """Maps names to objects; unknown names raise a UserError listing the known ones.

    Args:
      kind: the axis's name in messages ("trunk", "weighting method").
      docs: where its entries are documented, unless an entry says otherwise.
      flag: the command-line flag that names an entry, for messages (e.g. "--weighting").
      options_flag: the flag that sets an entry's options (e.g. "--weighting_options").
    """

    def __init__(self, kind, docs="README.md", flag="", options_flag=""):
        self.kind = kind
        self.docs = docs
        self.flag = flag
        self.options_flag = options_flag or f"{flag}_options"
        self._entries = {}

    def register(self, name, description=None, options=None, docs=None):
        """Returns a decorator that registers the decorated object under `name`.

        The description defaults to the first line of the object's docstring (for objects
        that are not classes or functions: of their class), the options to its
        `HYPERPARAMETERS`.
        """

        def decorate(obj):
            self.add(name, obj, description, options, docs)
            return obj

        return decorate

    def add(self, name, obj, description=None, options=None, docs=None):
        """Registers `obj` under `name` (see `register`); returns the `Entry`."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice.")
        if description is None:
            described = obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj)
            description = getattr(obj, "description", "") or first_line(described)
        options = dict(getattr(obj, "HYPERPARAMETERS", {}) if options is None else options)
        entry = Entry(name, obj, description, options, docs or self.docs)
        self._entries[name] = entry
        return entry

    def entry(self, name):
        """The `Entry` registered under `name`.

        Raises:
          UserError: an unknown name, with the known ones.
        """
        if name not in self._entries:
            raise errors.UserError(
                f"Unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}.")
        return self._entries[name]

    def get(self, name):
        """Returns the object registered under `name`."""
        return self.entry(name).value

    def names(self):
        """Returns the registered names, sorted."""
        return sorted(self._entries)

    def entries(self):
        """The entries, sorted by name."""
        return [self._entries[name] for name in self.names()]

    def options(self, name, given):
        """The options of entry `name`: its defaults updated with `given` ({option: value}),
        every value checked (see `resolve_options`)."""
        owner = f"{self.flag}={name}" if self.flag else f"the {self.kind} {name!r}"
        return resolve_options(self.entry(name).options, given, self.options_flag, owner)

    def name_of(self, obj):
        """The name `obj` is registered under, or None."""
        return next((entry.name for entry in self._entries.values() if entry.value is obj), None)

    def help(self):
        """"name (description), ..." of every entry, for a flag's help."""
        return "; ".join(f"{entry.name} ({entry.description})" if entry.description
                         else entry.name for entry in self.entries())

    def __contains__(self, name):
        return name in self._entries
