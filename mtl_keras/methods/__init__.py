"""Multi-task methods: loss weighting and gradient aggregation, one file each (see base.py)."""

from mtl_keras.methods import aligned_mtl  # noqa: F401
from mtl_keras.methods import base  # noqa: F401
from mtl_keras.methods import cagrad  # noqa: F401
from mtl_keras.methods import config  # noqa: F401
from mtl_keras.methods import db_mtl  # noqa: F401
from mtl_keras.methods import dualproj  # noqa: F401
from mtl_keras.methods import dwa  # noqa: F401
from mtl_keras.methods import equal  # noqa: F401
from mtl_keras.methods import excess_mtl  # noqa: F401
from mtl_keras.methods import fairgrad  # noqa: F401
from mtl_keras.methods import famo  # noqa: F401
from mtl_keras.methods import gls  # noqa: F401
from mtl_keras.methods import graddrop  # noqa: F401
from mtl_keras.methods import gradnorm  # noqa: F401
from mtl_keras.methods import gradvac  # noqa: F401
from mtl_keras.methods import imtl  # noqa: F401
from mtl_keras.methods import krum  # noqa: F401
from mtl_keras.methods import mgda  # noqa: F401
from mtl_keras.methods import moco  # noqa: F401
from mtl_keras.methods import modo  # noqa: F401
from mtl_keras.methods import nash_mtl  # noqa: F401
from mtl_keras.methods import pcgrad  # noqa: F401
from mtl_keras.methods import rlw  # noqa: F401
from mtl_keras.methods import sdmgrad  # noqa: F401
from mtl_keras.methods import stch  # noqa: F401
from mtl_keras.methods import trimmed_mean  # noqa: F401
from mtl_keras.methods import uncertainty  # noqa: F401
from mtl_keras.methods import upgrad  # noqa: F401
from mtl_keras.methods.base import METHODS
from mtl_keras.methods.base import make
