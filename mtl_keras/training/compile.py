"""compile() with dicts keyed by head name: losses, metrics and loss weights."""

import dataclasses

from mtl_keras import errors
from mtl_keras.heads import losses


def resolve_loss_weights(tasks, overrides):
    """Returns {head: weight}: each task's own weight, replaced where `overrides` names it.

    Raises:
      UserError: `overrides` names a head the model does not have, or every weight is 0.
    """
    names = [task.name for task in tasks]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise errors.UserError(
            f"--loss_weights names {', '.join(unknown)}, but the heads are {', '.join(names)}.")
    weights = {task.name: float(overrides.get(task.name, task.weight)) for task in tasks}
    if not any(weights.values()):
        given = ", ".join(f"{name}={weight:g}" for name, weight in weights.items())
        raise errors.UserError(f"Every head's loss weight is 0 ({given}), so nothing would "
                               f"train; give at least one head a weight above 0.")
    return weights


def override_losses(tasks, overrides):
    """Returns the tasks with the losses `overrides` ({head: loss}) names, all checked.

    Raises:
      UserError: an unknown head, a loss that is neither registered nor importable, a
        registered loss that does not fit its head's kind, or a loss that fails on a
        batch shaped like its head's labels (see `losses.check_loss`).
    """
    names = [task.name for task in tasks]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise errors.UserError(
            f"--losses names {', '.join(unknown)}, but the heads are {', '.join(names)}.")
    tasks = tuple(dataclasses.replace(task, loss=overrides.get(task.name, task.loss)) for task in tasks)
    for task in tasks:
        losses.check_loss(task)
    return tasks


def compile_model(model, tasks, optimizer, loss_weights, jit_compile, label_smoothing=0.0,
                  weighting="equal", rep_grad=False):
    """Compiles `model` with one loss and metric list per head, keyed by task name.

    Args:
      model: a `MultiTaskModel` whose outputs are a dict keyed by task name.
      tasks: the heads, `tasks.Task`.
      optimizer: a Keras optimizer.
      loss_weights: {head: weight}, from `resolve_loss_weights`.
      jit_compile: bool, whether to compile the train step with XLA.
      label_smoothing: label smoothing of the multiclass heads' cross-entropy.
      weighting: a method name or a `methods.base.Method` for the model's tasks.
      rep_grad: gradient methods take the task gradients at the trunk's output.
    """
    # Metrics go in weighted_metrics: Keras applies the per-head sample weights, which are
    # 0 where a label is missing, only to those.
    model.compile(
        optimizer=optimizer,
        loss={task.name: losses.make_loss(task, label_smoothing) for task in tasks},
        weighted_metrics={task.name: losses.make_metrics(task) for task in tasks},
        loss_weights=dict(loss_weights),
        jit_compile=jit_compile,
        weighting=weighting,
        rep_grad=rep_grad,
    )
