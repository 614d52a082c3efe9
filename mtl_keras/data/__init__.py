"""Datasets: each registered loader returns a `source.DataSource` of uint8 images and dict labels."""

from mtl_keras.data import cifar  # noqa: F401  (registers cifar100, cifar10)
from mtl_keras.data import cifar100_tasks  # noqa: F401  (registers cifar100_tasks)
from mtl_keras.data import cifar10_ovr  # noqa: F401  (registers cifar10_ovr)
from mtl_keras.data import faces  # noqa: F401  (registers utkface)
from mtl_keras.data import fashion_mnist  # noqa: F401  (registers fashion_mnist)
from mtl_keras.data import fashion_mnist_ovr  # noqa: F401  (registers fashion_mnist_ovr)
from mtl_keras.data import folder  # noqa: F401  (registers folder)
from mtl_keras.data import multi_fashion  # noqa: F401  (registers multi_fashion)
from mtl_keras.data import omniglot  # noqa: F401  (registers omniglot)
from mtl_keras.data import tfds_dataset  # noqa: F401  (registers tfds, used as tfds:NAME)
from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras.data.source import DATASETS

# The settings only some datasets read (given to another one, they would change nothing).
READ_BY = {"csv": ("folder",), "tasks": ("folder", "tfds", "utkface"),
           "tasks_file": ("folder", "tfds", "utkface"), "cache_dir": ("folder", "utkface"),
           "image_column": ("folder",), "split_column": ("folder",),
           "image_size": ("folder", "utkface", "omniglot", "tfds"),
           "in_memory": ("folder", "utkface", "tfds")}


def load(config):
    """Loads the dataset that `config.dataset` names; "tfds:NAME" is the "tfds" loader's.

    Raises:
      UserError: an unknown dataset, a setting it does not read, or data it cannot read.
    """
    name = config.dataset.partition(":")[0]
    loader = DATASETS.get(name)
    check_settings(config, name)
    return loader(config)


def check_settings(config, name):
    """Raises UserError for a setting that dataset `name` would ignore: one only other
    datasets read, or --cache_dir with --synthetic images (made in memory)."""
    defaults = config_lib.Config()
    for flag, readers in READ_BY.items():
        if name not in readers and getattr(config, flag) != getattr(defaults, flag):
            raise errors.UserError(
                f"--{flag} is read by --dataset={' or '.join(readers)} only; this run's dataset "
                f"is {config.dataset}, which would ignore it. Drop --{flag}.")
    if config.synthetic and config.cache_dir:
        raise errors.UserError("--cache_dir keeps a folder's decoded images; --synthetic images "
                               "are made in memory and never cached. Drop --cache_dir.")
