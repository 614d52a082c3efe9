"""Head kinds, one file each (see base.py): what a head answers and everything that follows."""

from mtl_keras.heads import binary  # noqa: F401
from mtl_keras.heads import multiclass  # noqa: F401
from mtl_keras.heads import multilabel  # noqa: F401
from mtl_keras.heads import regression  # noqa: F401
from mtl_keras.heads.base import KINDS
from mtl_keras.heads.base import LOSSES
from mtl_keras.heads.base import kind_of
from mtl_keras.heads.base import lower_is_better
