"""Recipes: the training flagfiles of our experiments, shipped with the package.

`mtl-keras train --recipe=NAME [--flag=value ...]` runs the flagfile NAME.flags of this
folder (flags after it override it, as after `--flagfile`); `--recipe` alone lists them.
In a clone, `experiments/NAME.flags` are links to these files, for the Makefile and the
commands of the READMEs. A recipe that reads another (`--flagfile=experiments/OTHER.flags`)
reads it from here, so that it also runs where the package is installed.
"""

import os
import re

from mtl_keras import errors

FOLDER = os.path.dirname(os.path.abspath(__file__))
SUFFIX = ".flags"
# A line of a recipe that reads another recipe.
_LAYER = re.compile(r"--flagfile=(?:\S*/)?experiments/(\w+)\.flags$")


def names():
    """The recipes' names, sorted."""
    return sorted(name[:-len(SUFFIX)] for name in os.listdir(FOLDER) if name.endswith(SUFFIX))


def path(name):
    """The flagfile of recipe `name`.

    Raises:
      UserError: no recipe has that name (the message lists them).
    """
    if name not in names():
        raise errors.UserError(f"There is no recipe {name!r}; the recipes are "
                               f"{', '.join(names())} (--recipe alone says what each does).")
    return os.path.join(FOLDER, name + SUFFIX)


def summary(name):
    """What the recipe trains: the first sentence of its opening comment."""
    words = []
    with open(path(name), encoding="utf-8") as recipe:
        for line in recipe:
            if not line.startswith("#") or line.startswith("#  "):  # a flag, or a command
                break
            words.append(line.lstrip("#").strip())
    text = " ".join(words)
    text = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0].rstrip(".:;")
    return text if len(text) <= 100 else text[:99] + "…"


def listing():
    """The recipes, one per line, with what each trains."""
    width = max(len(name) for name in names())
    return "\n".join(["recipes (mtl-keras train --recipe=NAME [--flag=value ...]):",
                      *[f"  {name:<{width}}  {summary(name)}" for name in names()]])


def arguments(name):
    """The command-line arguments of recipe `name`, a recipe it reads expanded in its place.

    Raises:
      UserError: no recipe has that name.
    """
    expanded = []
    with open(path(name), encoding="utf-8") as recipe:
        for line in recipe:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            layer = _LAYER.match(line)
            expanded += arguments(layer.group(1)) if layer else [line]
    return expanded


def expand(argv):
    """`argv` with each `--recipe=NAME` replaced by the recipe's arguments.

    Returns:
      The arguments, or None when `--recipe` has no name (the caller lists the recipes).

    Raises:
      UserError: an unknown recipe (the message names the recipes).
    """
    expanded = []
    for argument in argv:
        if argument in ("--recipe", "--recipe="):
            return None
        if argument.startswith("--recipe="):
            expanded += arguments(argument[len("--recipe="):])
        else:
            expanded.append(argument)
    return expanded
