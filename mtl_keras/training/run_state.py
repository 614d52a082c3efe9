"""A run's saved state: everything needed to continue training where it stopped.

The state is two files in `WORKDIR/checkpoints/`:
- `state-<step>.npz`: the values of every variable of the model (weights, batch-norm
  statistics, random-seed states), of the optimizer (its step count, which is the
  learning-rate schedule's position, and its slots) and of the epoch's metrics so far;
- `state.json`: the progress (epoch, step within it), the epoch logs so far, the best
  checkpoint's score, and the name of the `.npz` file it goes with.

The `.npz` is written first under a new name, then `state.json` is replaced atomically,
then the previous `state.json` becomes `state-previous.json` and older `.npz` files are
removed: a kill at any moment leaves a `state.json` that names a complete `.npz`. A resume
checks both files of the last state; when either is damaged (a disk error, a hand edit) it
resumes from the state saved before, and says so. The data order needs no saving: the training pipeline is a seeded
function of the step, so a resumed run skips the batches already trained.
"""

import dataclasses
import glob
import os
import zipfile

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import fileio

FOLDER = "checkpoints"
INDEX = "state.json"
PREVIOUS = "state-previous.json"  # the index of the state saved before the last


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a run is.

    Attributes:
      epoch: the epoch in progress (0-based); equal to the number of epochs at the end.
      step: training steps done in that epoch.
      steps_per_epoch: steps in a whole epoch.
      history: the logs of every finished epoch, a list of {name: number}.
      best: the best checkpoint's score so far, or None.
      epoch_seconds: wall time already spent in the epoch in progress.
      best_epoch: the epoch (1-based) of the best checkpoint, or None.
      stale_epochs: epochs finished since the best checkpoint improved (early stopping's
        patience counter).
      stopped_epoch: the epoch (1-based) after which early stopping ended training, or None.
    """

    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 1
    history: tuple = ()
    best: float = None
    epoch_seconds: float = 0.0
    best_epoch: int = None
    stale_epochs: int = 0
    stopped_epoch: int = None

    @property
    def global_step(self):
        """Training steps done since the start of the run."""
        return self.epoch * self.steps_per_epoch + self.step

    def describe(self):
        """E.g. "epoch 3, step 17 of 39", or "the end of epoch 2" (1-based epochs, as the
        logs print them)."""
        if self.step == 0:
            return f"the end of epoch {self.epoch}" if self.epoch else "the start"
        return f"epoch {self.epoch + 1}, step {self.step} of {self.steps_per_epoch}"


def _model_variables(model):
    """The model's and the optimizer's variables, without duplicates, in a fixed order."""
    seen, variables = set(), []
    for variable in [*model.variables, *model.optimizer.variables]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def _values(variables):
    return [np.asarray(variable.numpy()) for variable in variables]


def _saved_metrics(model):
    """The metric variables the state keeps: none under the multi-worker strategy, where
    reading them sums them across the workers, a collective operation that the chief
    cannot start alone (a resumed epoch's logs then average its remaining steps only)."""
    if isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return []
    return model.metrics_variables


def save(folder, model, progress):
    """Saves the model's state and `progress` into `folder/checkpoints`, atomically; the
    state saved before stays beside it (`PREVIOUS`), for a resume when this one is damaged."""
    checkpoints = os.path.join(folder, FOLDER)
    name = f"state-{progress.global_step}.npz"
    model_variables, metric_variables = _model_variables(model), _saved_metrics(model)
    with fileio.atomic_path(os.path.join(checkpoints, name)) as temporary:
        np.savez(temporary, *_values(model_variables), *_values(metric_variables))
    index = {**dataclasses.asdict(progress), "values": name,
             "model_variables": [variable.path for variable in model_variables],
             "metric_variables": [variable.path for variable in metric_variables]}
    try:
        previous = _read_index(folder, INDEX)[1]
    except (_Damaged, FileNotFoundError):
        previous = None
    fileio.write_json(os.path.join(checkpoints, INDEX), index)
    kept = {name}
    if previous is not None and previous["values"] != name:
        fileio.write_json(os.path.join(checkpoints, PREVIOUS), previous)
        kept.add(previous["values"])
    for path in glob.glob(os.path.join(checkpoints, "state-*.npz")):
        if os.path.basename(path) not in kept:
            os.remove(path)


class _Damaged(Exception):
    """A state file that cannot be read: its path and what was wrong."""

    def __init__(self, path, error):
        super().__init__(f"{path} is damaged ({type(error).__name__})")
        self.path = path


def _read_index(folder, name):
    """(Progress, index dict) of the index file `name`, its archive checked as whole.

    Raises:
      FileNotFoundError: no such index; _Damaged: it or its archive cannot be read.
    """
    path = os.path.join(folder, FOLDER, name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        index = fileio.read_json(path)
        fields = {field.name for field in dataclasses.fields(Progress)}
        progress = Progress(**{key: value for key, value in index.items() if key in fields})
        progress = dataclasses.replace(progress, history=tuple(progress.history))
        count = len(index["model_variables"]) + len(index["metric_variables"])
        archive_path = os.path.join(folder, FOLDER, index["values"])
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise _Damaged(path, error) from None
    try:
        with np.load(archive_path) as archive:  # reads the archive's directory only
            if len(archive.files) != count:
                raise ValueError(f"{len(archive.files)} arrays, not {count}")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _Damaged(archive_path, error) from None
    return progress, index


def load(folder):
    """Returns the saved state in `folder` as (Progress, index dict), or None without one.

    When the last state is damaged (its index or its archive), the one saved before it is
    returned, and the run says so.

    Raises:
      UserError: no state saved in `folder` is whole.
    """
    damaged = None
    for name in (INDEX, PREVIOUS):
        try:
            progress, index = _read_index(folder, name)
        except FileNotFoundError:
            continue
        except _Damaged as error:
            damaged = damaged or error
            continue
        if damaged is not None:
            print(f"[mtl_keras] {damaged}; resuming from the state saved before it, at "
                  f"{progress.describe()}", flush=True)
        return progress, index
    if damaged is not None:
        raise _refusal(folder, damaged) from None
    return None


def _refusal(folder, damaged):
    """The UserError for a damaged state and no whole one: the way out is to start again."""
    return errors.UserError(
        f"{damaged}, so the run cannot resume from it; remove "
        f"{os.path.join(folder, FOLDER, 'state*')} to train the run again from its start, or "
        f"pass a new --workdir.")


def _assign(variables, values, what):
    # By position: the same command builds the same variables in the same order (their
    # names may differ, e.g. when a process builds a second model).
    shapes = [tuple(variable.shape) for variable in variables]
    if shapes != [value.shape for value in values]:
        raise ValueError(f"The saved state's {what} do not match this model's; the run's "
                         f"folder holds the state of another model.")
    for variable, value in zip(variables, values):
        variable.assign(value)


def restore_model(folder, model, index, element_spec):
    """Gives `model` and its optimizer the saved values of `index` (from `load`).

    `element_spec` (the training dataset's) lets Keras create the optimizer's and the
    metrics' variables before the first step, so that there is something to assign to.
    """
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=element_spec)  # noqa: SLF001  (no public way)
    count = len(index["model_variables"])
    _assign(_model_variables(model), _read_values(folder, index, 0, count), "variables")


def restore_metrics(folder, model, index):
    """Gives the model's metrics the values they had when the state was saved: the logs of
    an epoch resumed in its middle then count its first steps too."""
    if not index["metric_variables"]:
        return
    first = len(index["model_variables"])
    _assign(model.metrics_variables,
            _read_values(folder, index, first, first + len(index["metric_variables"])), "metrics")


def _read_values(folder, index, first, end):
    """The saved arrays first..end-1 (an .npz reads only the arrays asked for)."""
    path = os.path.join(folder, FOLDER, index["values"])
    try:
        with np.load(path) as archive:
            return [archive[f"arr_{position}"] for position in range(first, end)]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise _refusal(folder, _Damaged(path, error)) from None


def remove(folder):
    """Removes the saved state of a run that has finished."""
    for path in glob.glob(os.path.join(folder, FOLDER, "state*")):
        os.remove(path)
