"""The data a run trains on: `load(config)` calls the registered dataset the run names.

A dataset (`datasets/`, one loader each) returns a `source.DataSource`: splits of uint8 images
and dict labels, and its heads. Its heads and labels come from `labels/` (hierarchies,
families, declared heads), its images from files through `images/` (decoding, streams, record
caches); `pipeline` feeds the splits to a model and `fingerprint` tells whether a resumed run
still trains on the same data.
"""

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras.data import datasets  # noqa: F401  (registers every dataset)
from mtl_keras.data import kept
from mtl_keras.data.source import DATASETS

# The settings only some datasets read (given to another one, they would change nothing).
READ_BY = {"csv": ("folder",), "tasks": ("folder", "tfds", "utkface"),
           "tasks_file": ("folder", "tfds", "utkface"), "cache_dir": ("folder", "utkface"),
           "image_column": ("folder",), "split_column": ("folder",),
           "image_size": ("folder", "utkface", "omniglot", "tfds"),
           "in_memory": ("folder", "utkface", "tfds")}


def load(config):
    """Loads the dataset that `config.dataset` names; "tfds:NAME" is the "tfds" loader's.

    In a process that keeps the last dataset (`kept.keep_last`, a study's worker), a load
    with the same settings of the data as the last one returns that one's `DataSource`.

    Raises:
      UserError: an unknown dataset, a setting it does not read, or data it cannot read.
    """
    name = config.dataset.partition(":")[0]
    loader = DATASETS.get(name)
    check_settings(config, name)
    return kept.load(name, config, loader)


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
