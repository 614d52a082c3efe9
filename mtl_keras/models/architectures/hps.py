"""Hard parameter sharing (Caruana 1997, "Multitask learning"): one trunk, read by every head.

The default architecture, and mtl_keras' model before there were others: the trunk's
flat features feed one Dense layer per task. The trunk is the shared representation.
"""

from mtl_keras.models.architectures import base


@base.register("hps")
class HardParameterSharing(base.Architecture):
    """One trunk whose features every head reads."""

    shares_representation = True

    def build(self, tasks, trunk, images):
        features = trunk(images)
        return base.Built({task.name: features for task in tasks}, representation=(features,))
