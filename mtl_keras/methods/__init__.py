"""Multi-task methods: loss weighting and gradient aggregation, one file each (see base.py)."""

from mtl_keras.methods import equal  # noqa: F401
from mtl_keras.methods.base import METHODS
from mtl_keras.methods.base import make
