"""The architecture registry: which layers the tasks share, between the images and the heads.

An architecture builds the model between the standardized images and the heads (one Dense
layer per task, made by `models/build.py`): `build(tasks, trunk, images)` returns a `Built`:
- `features`: {task name: the flat features its head reads};
- `representation`: the tensors that every head reads and that depend on nothing else
  (what `--rep_grad` differentiates against), or None when the tasks share none;
- `task_layers`: {task name: layer names} that belong to one task although other tasks'
  outputs depend on them (see `MultiTaskModel.set_task_layers`): a cross-stitch column,
  PLE's task experts and gates. Variables only one task's output depends on are that
  task's anyway; the others are shared.

Adding an architecture: one file in this folder with a subclass of `Architecture`
registered by `@register("name")`, its paper cited in the docstring and its
hyperparameters with the paper's defaults in `HYPERPARAMETERS` (set by
`--architecture_options=NAME=NUMBER,...`); one import line in `__init__.py`; its name in
`tests/models/test_architectures.py`, whose tests build and train every registered one.
"""

import dataclasses

from keras import layers

from mtl_keras import errors
from mtl_keras import registry
from mtl_keras.models import resnet  # noqa: F401  (registers the ResNet trunks)
from mtl_keras.models import trunks

ARCHITECTURES = registry.Registry("architecture", flag="--architecture")


@dataclasses.dataclass(frozen=True)
class Built:
    """What an architecture built (see the module docstring)."""

    features: dict
    representation: tuple = None
    task_layers: dict = dataclasses.field(default_factory=dict)


class Architecture:
    """Base class of the architectures (see the module docstring).

    Attributes:
      name: the registered name.
      options: {hyperparameter: value}: the defaults of `HYPERPARAMETERS` updated with
        the user's options (whole numbers as int).
    """

    name = ""
    HYPERPARAMETERS = {}  # name → registry.Option
    minimum_stages = 1  # stage-wise architectures need a trunk of at least 2 stages
    shares_representation = False  # whether `build` returns a representation

    def __init__(self, options=None):
        self.options = ARCHITECTURES.options(self.name, options or {})

    def check(self, trunk):
        """Raises UserError when the architecture cannot be built on `trunk` (a `Trunk`)."""
        needed = self.required_stages()
        if len(trunk.stages) < needed:
            staged = ", ".join(trunk_name for trunk_name in _staged_trunks(needed))
            raise errors.UserError(
                f"--architecture={self.name} needs a trunk of at least {needed} stages "
                f"({self.stage_reason()}); --trunk={trunk.name} has {len(trunk.stages)}. "
                f"Choose one of: {staged}.")

    def required_stages(self):
        """The number of stages the trunk must have."""
        return self.minimum_stages

    def stage_reason(self):
        """Why the architecture needs stages, for the error message."""
        return "it works between them"

    def build(self, tasks, trunk, images):
        """Builds the architecture on `images` for `tasks` with `trunk`; returns a `Built`."""
        raise NotImplementedError


def register(name):
    """A class decorator: registers an `Architecture` subclass under `name`."""

    def decorate(cls):
        cls.name = name
        return ARCHITECTURES.register(name)(cls)

    return decorate


def make(name, options=None):
    """The registered architecture `name` with `options` ({hyperparameter: value})."""
    return ARCHITECTURES.get(name)(options)


def gate(inputs, count):
    """A softmax gate over `count` experts, linear in the flattened `inputs` (Ma et al.
    2018's gate). In float32 even under mixed precision: its weights sum to one."""
    return layers.Dense(count, activation="softmax", dtype="float32")(layers.Flatten()(inputs))


def layers_between(inputs, outputs):
    """The names of the layers that compute `outputs` from `inputs` (Keras tensors),
    found by walking the graph back from `outputs` and stopping at `inputs`."""
    stop = {id(tensor) for tensor in inputs}
    found, stack = {}, list(outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in stop:
            continue
        operation, node_index, _ = tensor._keras_history  # noqa: SLF001
        if operation.name not in found:
            found[operation.name] = operation
            stack.extend(operation._inbound_nodes[node_index].input_tensors)  # noqa: SLF001
    return list(found)


def _staged_trunks(needed):
    return [name for name in trunks.TRUNKS.names() if len(trunks.TRUNKS.get(name).stages) >= needed]
