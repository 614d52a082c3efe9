"""Progressive layered extraction: Tang et al. 2020, "Progressive layered extraction (PLE):
a novel multi-task learning (MTL) model for personalized recommendations" (RecSys), 4.2.

CGC (cgc.py) stacked in levels: the trunk's stages are cut into `levels` consecutive groups
and each level's experts are copies of its group. At each level a task's experts read
that task's mixture from the level below, the shared experts read the shared mixture (a
gate over every expert of the level below); the images at the first level. The last level's
experts end with the trunk's pooling and have no shared gate. A task's experts and gates
at every level are its own (declared so: the shared gates make the lower ones reachable
from every head); the shared experts and shared gates are shared.
"""

from mtl_keras import registry
from mtl_keras.models.architectures import base
from mtl_keras.models.architectures import cgc


@base.register("ple")
class ProgressiveLayeredExtraction(cgc.CustomizedGateControl):
    """CGC levels over the trunk's stages."""

    # Two levels: the paper compares its multi-level models at two levels.
    HYPERPARAMETERS = {
        **cgc.CustomizedGateControl.HYPERPARAMETERS,
        "levels": registry.Option(2, "extraction levels, each over consecutive stages of the "
                                  "trunk", minimum=1, maximum=16, whole=True),
    }

    def levels(self):
        return self.options["levels"]

    def required_stages(self):
        return self.options["levels"]

    def stage_reason(self):
        return f"one or more per level, levels={self.options['levels']}"
