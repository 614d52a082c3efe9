"""Head declarations for datasets of the user's own: `--tasks` or a JSON task file.

`--tasks=age:regression,gender:binary,race:multiclass:7` declares three heads, each
named after the CSV column (or TFDS feature) its labels come from; `HEAD=SOURCE:KIND`
names a head otherwise (`smiling=attributes/Smiling:binary`; without `HEAD=`, a feature
path's last part names it). After the kind, a multiclass or multilabel head takes its
number of classes (labels are then 0..N-1) or its class names joined by `|`
(`race:multiclass:White|Black|Asian|Indian|Others`); a binary head may name its two classes (`gender:binary:male|female`, the first is 0).
Without either, the classes of a multiclass head are the distinct labels of the data.

A task file is a JSON list of objects with the keys name, kind, and optionally source
(default: the name), classes (a count or a list of names), loss and weight.
"""

import dataclasses
import json

from mtl_keras import errors
from mtl_keras import heads
from mtl_keras import tasks as tasks_lib


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A declared head before the data is read: classes may still be unknown."""

    name: str
    kind: str
    class_names: tuple = ()  # declared names, or ()
    num_classes: int = 0  # declared count, or 0
    loss: str = ""
    weight: float = 1.0
    source: str = ""  # the CSV column or TFDS feature of its labels; "": the name

    @property
    def source_name(self):
        """Where the head's labels come from: `source`, else the head's name."""
        return self.source or self.name


def parse_tasks_flag(text, sources_name_classes=False):
    """Parses the --tasks flag into TaskSpecs.

    `sources_name_classes`: the data's features name a multilabel head's classes (TFDS), so
    they need not be declared, as they must be for a CSV's columns.
    """
    specs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        target, _, rest = item.partition(":")
        name, equals, source = (part.strip() for part in target.partition("="))
        if not equals:  # no HEAD=: the column's name, or a feature path's last part
            name, source = name.rsplit("/", 1)[-1], name
        kind, _, classes = rest.partition(":")
        spec = _make(name, kind.strip(), classes.strip() or None, f"--tasks item {item!r}",
                     sources_name_classes)
        specs.append(dataclasses.replace(spec, source=source))
    return _check_unique(specs, "--tasks")


def read_tasks_file(path, sources_name_classes=False):
    """Reads a JSON task file into TaskSpecs (`sources_name_classes`: as `parse_tasks_flag`)."""
    try:
        with open(path, encoding="utf-8") as tasks_file:
            entries = json.load(tasks_file)
    except FileNotFoundError:
        raise errors.UserError(f"--tasks_file={path} does not exist.") from None
    except json.JSONDecodeError as error:
        raise errors.UserError(f"--tasks_file={path} is not valid JSON ({error}).") from None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise errors.UserError(f"--tasks_file={path} must hold a JSON list of objects.")
    specs = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}: task {number}"
        unknown = set(entry) - {"name", "kind", "source", "classes", "loss", "weight"}
        if unknown or "name" not in entry or "kind" not in entry:
            raise errors.UserError(f"{where} needs name and kind, and may have source, classes, "
                                   f"loss and weight only (found {', '.join(sorted(entry))}).")
        classes = entry.get("classes")
        if isinstance(classes, list):
            classes = "|".join(str(name) for name in classes)
        spec = _make(str(entry["name"]), str(entry["kind"]),
                     None if classes is None else str(classes), where, sources_name_classes)
        try:
            weight = float(entry.get("weight", 1.0))
        except (TypeError, ValueError):
            raise errors.UserError(f"{where} has a weight that is not a number.") from None
        tasks_lib.check_weight(spec.name, weight, where)  # as --loss_weights is checked
        specs.append(dataclasses.replace(spec, loss=str(entry.get("loss", "")), weight=weight,
                                         source=str(entry.get("source", ""))))
    return _check_unique(specs, path)


def _make(name, kind, classes, where, sources_name_classes=False):
    if not name:
        raise errors.UserError(f"{where} has no head name; write NAME:KIND[:CLASSES].")
    tasks_lib.check_name(name, where)
    if kind not in heads.KINDS:
        raise errors.UserError(
            f"{where} has kind {kind!r}; choose one of {', '.join(heads.KINDS.names())}.")
    count, names = heads.kind_of(kind).declared_classes(classes, where, sources_name_classes)
    return TaskSpec(name, kind, class_names=names, num_classes=count)


def _check_unique(specs, where):
    names = [spec.name for spec in specs]
    for name in names:
        if names.count(name) > 1:
            raise errors.UserError(f"{where} declares the head {name!r} twice.")
    if not specs:
        raise errors.UserError(f"{where} declares no head.")
    return specs
