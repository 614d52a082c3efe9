"""compile() with dicts keyed by head name: losses, metrics and loss weights."""

from mtl_keras import errors
from mtl_keras.training import losses


def resolve_loss_weights(tasks, overrides):
    """Returns {head: weight}: each task's own weight, replaced where `overrides` names it.

    Raises:
      UserError: `overrides` names a head the model does not have.
    """
    names = [task.name for task in tasks]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise errors.UserError(
            f"--loss_weights names {', '.join(unknown)}, but the heads are {', '.join(names)}.")
    return {task.name: float(overrides.get(task.name, task.weight)) for task in tasks}


def compile_model(model, tasks, optimizer, loss_weights, jit_compile):
    """Compiles `model` with one loss and metric list per head, keyed by task name.

    Args:
      model: a model whose outputs are a dict keyed by task name.
      tasks: the heads, `tasks.Task`.
      optimizer: a Keras optimizer.
      loss_weights: {head: weight}, from `resolve_loss_weights`.
      jit_compile: bool, whether to compile the train step with XLA.
    """
    model.compile(
        optimizer=optimizer,
        loss={task.name: losses.LOSSES.get(task.loss)() for task in tasks},
        metrics={task.name: [losses.METRICS.get(name)() for name in task.metrics]
                 for task in tasks},
        loss_weights=dict(loss_weights),
        jit_compile=jit_compile,
    )
