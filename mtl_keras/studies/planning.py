"""A study's plan: its settings (flagfiles × grid, with the study's overrides) and its runs,
seed by seed, each a command line and a folder named after what differs from its flagfile.

A single-task setting without --task becomes one run per head of its dataset; it takes
neither overrides nor grid values of the method's flags (`config.METHOD_ONLY`: one task
trains alike under every method), so a grid of methods trains its baselines once.
"""

import dataclasses
import itertools
import os

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import flagfiles as flagfiles_lib
from mtl_keras import protocols
from mtl_keras.training import preparation

# Flags the study sets for each run itself.
PER_RUN = ("seed", "workdir")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a study: a training flagfile with the arguments put after it.

    Attributes:
      flagfile: the training flagfile.
      config: the `Config` it describes with `arguments` applied.
      arguments: training flags (`--name=value`) put after the flagfile: the study's
        overrides and the setting's grid values.
      label: what names its runs after the flagfile's stem, e.g. "-weighting=upgrad".
    """

    flagfile: str
    config: object
    arguments: tuple = ()
    label: str = ""


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of a study."""

    flagfile: str
    seed: int
    task: str
    workdir: str
    arguments: tuple = ()

    @property
    def training_arguments(self):
        """The run's training flags, as its command line gives them."""
        task = [f"--task={self.task}"] if self.task else []
        return [f"--flagfile={self.flagfile}", *self.arguments, f"--seed={self.seed}", *task,
                f"--workdir={self.workdir}"]

    def command(self, python):
        """The command line that trains (or resumes) the run."""
        return [python, "-m", "mtl_keras.run", *self.training_arguments]

    @property
    def finished(self):
        return os.path.exists(os.path.join(self.workdir, "metrics.json"))


def parse_grid(items):
    """Parses `--grid` items "NAME=V1,V2,..." into {name: [values as text]}.

    Raises:
      UserError: an item that is not NAME=VALUES, a name that is not a training flag or is
        set per run, or a name given twice.
    """
    grid = {}
    for item in items:
        name, equals, values = (part.strip() for part in item.partition("="))
        values = [value.strip() for value in values.split(",") if value.strip()]
        if not equals or not values:
            raise errors.UserError(f"--grid item {item!r} is not NAME=VALUE,VALUE,...; write e.g. "
                                   f"--grid=weighting=equal,upgrad.")
        if name not in flagfiles_lib.NAMES or name in PER_RUN:
            raise errors.UserError(f"--grid names {name!r}, which is not a training flag the "
                                   f"study may vary (every flag of mtl-keras train but "
                                   f"{', '.join(PER_RUN)}).")
        if name in grid:
            raise errors.UserError(f"--grid names {name!r} twice; give its values in one item.")
        grid[name] = values
    return grid


def expand(flagfiles, overrides=None, grid=None):
    """The study's settings: every flagfile with `overrides`, times every grid combination.

    Args:
      flagfiles: training flagfiles.
      overrides: {field: value}, training flags that apply to every setting.
      grid: {field: [values as text]}, from `parse_grid`.

    Returns:
      A list of `Setting`, each with its `Config` checked.

    Raises:
      UserError: an override or grid value a run would refuse, or one the study sets.
    """
    overrides, grid = dict(overrides or {}), dict(grid or {})
    refused = sorted(set(overrides) & set(PER_RUN))
    if refused:
        raise errors.UserError(f"The study sets {', '.join('--' + n for n in refused)} for each "
                               f"run itself: give the seeds as --seeds.")
    combinations = list(itertools.product(*grid.values())) or [()]
    expanded = []
    for flagfile in flagfiles:
        for values in combinations:
            arguments = _arguments(overrides, zip(grid, values))
            if protocols.get(flagfiles_lib.read_flagfile(flagfile, arguments).protocol).baseline:
                # One task: the method's flags change nothing (config.METHOD_ONLY).
                arguments = _arguments(overrides, zip(grid, values), config_lib.METHOD_ONLY)
            # The folder names say what differs from the flagfile: a run of other settings
            # never takes the folder (and the "finished" mark) of the flagfile's own.
            label = "".join(f"-{argument.lstrip('-')}" for argument in arguments)
            if any(setting.flagfile == flagfile and setting.label == label
                   for setting in expanded):
                continue
            config = flagfiles_lib.read_flagfile(flagfile, arguments=arguments)
            preparation.check_parts(config)
            expanded.append(Setting(flagfile, config, tuple(arguments), label))
    return expanded


def _arguments(overrides, grid_values, leave_out=frozenset()):
    """The arguments of the overrides ({field: value}), then the grid's (name, value as text)
    pairs, without the fields in `leave_out`."""
    fixed = {name: value for name, value in overrides.items() if name not in leave_out}
    return flagfiles_lib.to_arguments(fixed) + [
        f"--{name}={value}" for name, value in grid_values if name not in leave_out]


def run_name(flagfile, seed, task="", label=""):
    """SETTING[LABEL]-seedS[-TASK], SETTING being the flagfile's name without .flags."""
    stem = os.path.splitext(os.path.basename(flagfile))[0]
    return f"{stem}{label}-seed{seed}" + (f"-{task}" if task else "")


def plan(settings, seeds, study_dir, task_names):
    """The study's runs, seed by seed.

    Args:
      settings: `Setting`s (or (flagfile path, its Config) pairs).
      seeds: the seeds.
      study_dir: the study's folder.
      task_names: function Config → the head names of its dataset, for single-task
        settings without --task.
    """
    settings = [setting if isinstance(setting, Setting) else Setting(*setting)
                for setting in settings]
    names = [run_name(setting.flagfile, 0, label=setting.label) for setting in settings]
    if len(set(names)) != len(names):
        raise errors.UserError("Two settings of the study have flagfiles of the same name; "
                               "rename one (a run's folder is named after its flagfile).")
    tasks = [task_names(setting.config)
             if protocols.get(setting.config.protocol).baseline and not setting.config.task
             else [setting.config.task] for setting in settings]
    runs = []
    for seed in seeds:
        for setting, setting_tasks in zip(settings, tasks):
            for task in setting_tasks:
                name = run_name(setting.flagfile, seed, task, setting.label)
                runs.append(PlannedRun(setting.flagfile, seed, task,
                                       os.path.join(study_dir, name), setting.arguments))
    return runs
