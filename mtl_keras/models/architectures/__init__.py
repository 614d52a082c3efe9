"""Multi-task architectures: which layers the tasks share, one file each (see base.py)."""

from mtl_keras.models.architectures import base  # noqa: F401
from mtl_keras.models.architectures import cgc  # noqa: F401
from mtl_keras.models.architectures import cross_stitch  # noqa: F401
from mtl_keras.models.architectures import dselect_k  # noqa: F401
from mtl_keras.models.architectures import hps  # noqa: F401
from mtl_keras.models.architectures import ltb  # noqa: F401
from mtl_keras.models.architectures import mmoe  # noqa: F401
from mtl_keras.models.architectures import mtan  # noqa: F401
from mtl_keras.models.architectures import ple  # noqa: F401
from mtl_keras.models.architectures.base import ARCHITECTURES
from mtl_keras.models.architectures.base import make
