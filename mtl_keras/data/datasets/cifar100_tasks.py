"""CIFAR-100 as 20 five-way tasks, one per superclass, each on images of its own.

Task i classifies the images of superclass i among its 5 fine classes, in the order of
their fine ids (the superclasses of `hierarchies.json`, checked against every label pair
the files ship). An image's other heads' labels are absent (mask 0). The images come as
`cifar100`'s do: --synthetic, --archive, or TensorFlow Datasets.
"""

import dataclasses

import numpy as np

from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.data.datasets import cifar
from mtl_keras.data.labels import families
from mtl_keras.data.labels import hierarchy as hierarchy_lib


def superclass_tasks(hierarchy):
    """The 20 tasks and their members: superclass i's fine ids, in increasing order."""
    parents = hierarchy.parents["fine"]
    tasks, members = [], {}
    for superclass, name in enumerate(hierarchy.class_names["coarse"]):
        fine = tuple(int(index) for index in np.flatnonzero(parents == superclass))
        task = tasks_lib.Task(families.task_name(name), len(fine),
                              tuple(hierarchy.class_names["fine"][index] for index in fine))
        tasks.append(task)
        members[task.name] = fine
    return tuple(tasks), members


@source.DATASETS.register("cifar100_tasks",
                         description="task family: 20 five-way tasks, one per CIFAR-100 superclass")
def load_cifar100_tasks(config):
    """Returns CIFAR-100's superclass task family as a `DataSource`."""
    hierarchy = hierarchy_lib.load("cifar100", ("fine", "coarse"))
    tasks, members = superclass_tasks(hierarchy)
    splits = {}
    for key, split in cifar.read_cifar100(config).items():
        hierarchy.check(split.labels, where=f"cifar100 {key} split")
        fine = split.labels["fine"]
        splits[key] = dataclasses.replace(split, labels={
            families.CLASS: fine,
            families.OWNER: families.partition(fine, hierarchy.parents["fine"])})
    return families.make_source("cifar100_tasks", splits, tasks, members, config,
                                synthetic_data=config.synthetic)
