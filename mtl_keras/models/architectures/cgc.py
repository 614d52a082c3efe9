"""Customized gate control: Tang et al. 2020, "Progressive layered extraction (PLE): a novel
multi-task learning (MTL) model for personalized recommendations" (RecSys), section 4.1.

Each task has experts of its own and all tasks share some experts; each task's gate, a
softmax linear in the (flattened) images, weighs its own and the shared experts, and its
head reads the mixture. An expert is a copy of the trunk (as in LibMTL). A task's experts
and gate are its own; the shared experts are shared. CGC is PLE of one level (ple.py).
"""

from mtl_keras import registry
from mtl_keras.models.architectures import base
from mtl_keras.models.architectures import mmoe


@base.register("cgc")
class CustomizedGateControl(base.Architecture):
    """Task-specific and shared trunk experts, one gate per task."""

    # One expert of each kind per task: the smallest CGC; the paper tunes the counts.
    HYPERPARAMETERS = {
        "task_experts": registry.Option(1, "experts of each task's own, each a copy of the "
                                        "trunk", minimum=1, maximum=16, whole=True),
        "shared_experts": registry.Option(1, "experts shared by the tasks, each a copy of the "
                                          "trunk", minimum=1, maximum=16, whole=True),
    }

    def levels(self):
        """The number of extraction levels (1: CGC)."""
        return 1

    def build(self, tasks, trunk, images):
        names = [task.name for task in tasks]
        groups = _stage_groups(trunk.stages, self.levels())
        inputs, shared_input = {name: images for name in names}, images
        task_layers = {name: [] for name in names}
        for level, stages in enumerate(groups):
            last = level == len(groups) - 1
            inputs, shared_input, owned = extraction_level(
                stages, trunk.pool if last else None, inputs, shared_input,
                self.options["task_experts"], self.options["shared_experts"])
            for name in names:
                task_layers[name] += owned[name]
        return base.Built(inputs, task_layers=task_layers)


def extraction_level(stages, pool, inputs, shared_input, task_experts, shared_experts):
    """One extraction network of PLE (a CGC): experts made of `stages` (then `pool`, at
    the last level, which has no shared gate).

    Args:
      stages: the trunk's stages this level's experts are made of.
      pool: the trunk's pooling, at the last level; None below it.
      inputs: {task: the tensor its experts and gate read}.
      shared_input: what the shared experts and the shared gate read.
      task_experts, shared_experts: the number of experts of each kind.

    Returns:
      ({task: its gate's mixture}, the shared gate's mixture of every expert or None at
      the last level, {task: the names of its experts' and gate's layers}).
    """

    def expert(x):
        for stage in stages:
            x = stage(x)
        return pool(x) if pool else x

    shared = [expert(shared_input) for _ in range(shared_experts)]
    mixtures, owned, every_expert = {}, {}, []
    for name, task_input in inputs.items():
        own = [expert(task_input) for _ in range(task_experts)]
        weights = base.gate(task_input, len(own) + len(shared))
        mixtures[name] = mmoe.ExpertMixture()([weights, *own, *shared])
        owned[name] = base.layers_between([task_input], [weights, *own])
        every_expert += own
    shared_mixture = None
    if pool is None:  # below the last level, the shared experts' next input mixes them all
        every_expert += shared
        shared_mixture = mmoe.ExpertMixture()(
            [base.gate(shared_input, len(every_expert)), *every_expert])
    return mixtures, shared_mixture, owned


def _stage_groups(stages, levels):
    """`stages` cut into `levels` consecutive groups, the first ones longer by one when
    they do not divide evenly (3 stages in 2 levels: 2, then 1)."""
    size, extra = divmod(len(stages), levels)
    groups, start = [], 0
    for level in range(levels):
        end = start + size + (1 if level < extra else 0)
        groups.append(tuple(stages[start:end]))
        start = end
    return groups
