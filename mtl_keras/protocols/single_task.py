"""single_task: the same trunk with one head, the one --task names, on its own images.

A study trains one such run per head: the baselines of the comparison. In a task family a
task's images are the ones that carry its label, so the run sees exactly the images that
the task's head learns from in a joint run, and is tested on the same test images.
"""

from mtl_keras import errors
from mtl_keras.data import source
from mtl_keras.protocols import base


def own_images(split, name):
    """`split` restricted to the examples whose label of head `name` is known, with that
    head's labels only; None when there are none."""
    if split is None:
        return None
    known = split.known(name)
    restricted = source.Split(split.images[known], {name: split.labels[name][known]})
    return restricted if len(restricted) else None


class SingleTask(base.Protocol):
    """One head alone."""

    flags = ("task",)
    baseline = True

    def label(self, config):
        return "single task (baselines)"

    def training_data(self, data, config):
        names = [task.name for task in data.tasks]
        if config.task not in names:
            start = (f"--task={config.task} is not a head of {data.name}" if config.task
                     else "--protocol=single_task needs --task=NAME")
            raise errors.UserError(f"{start}; its heads are {', '.join(names)}.")
        task = data.tasks[names.index(config.task)]
        return source.DataSource(
            name=data.name, tasks=(task,), train=own_images(data.train, task.name),
            validation=own_images(data.validation, task.name),
            test=own_images(data.test, task.name), synthetic=data.synthetic)


base.PROTOCOLS.register("single_task")(SingleTask())
