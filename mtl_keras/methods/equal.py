"""Equal weighting: the sum of the task losses (each times its --loss_weights weight)."""

from mtl_keras.methods import base


@base.METHODS.register("equal")
class Equal(base.Method):
    """The plain sum of the losses: every task weighs 1 (the losses arrive already
    multiplied by the user's --loss_weights). The default."""

    description = "the plain sum of the losses"

    logs_weights = False
