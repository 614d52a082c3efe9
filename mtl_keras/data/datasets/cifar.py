"""CIFAR-100 (fine 100 → coarse 20 → top 8) and CIFAR-10 (fine 10 → mid 7 → coarse 2).

Sources, in order: `--synthetic` (made-up images of the same shape), `--archive` (an
original archive on disk), else TensorFlow Datasets (downloads when needed). Whatever
the source, labels shipped with the data are checked against the published hierarchy
(a CIFAR-100 coarse label that is not its fine label's superclass is an error), and the
heads are the levels `--heads` picks (default: fine,coarse for CIFAR-100; fine,mid,coarse
for CIFAR-10).
"""

from mtl_keras.data import source
from mtl_keras.data.datasets import cifar_archive
from mtl_keras.data.datasets import tfds_source
from mtl_keras.data.labels import hierarchical

_SHAPE = (32, 32, 3)
_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


def offline_help(dataset, archive_stem):
    """The paragraph's second half: the two ways forward without internet."""
    return (
        f"Two ways forward: (1) {tfds_source.prepare_elsewhere(dataset)}; or (2) "
        f"download {archive_stem}-python.tar.gz or {archive_stem}-binary.tar.gz from {_PAGE} "
        "and pass --archive=PATH_TO_IT.")


def _read_splits(dataset, archive_stem, url, shipped, config):
    if config.synthetic:
        return hierarchical.synthetic_splits(dataset, _SHAPE, config)
    if config.archive:
        return cifar_archive.read(config.archive, dataset)
    arrays = tfds_source.load_arrays(dataset, config.data_dir or None, url,
                                     offline_help(dataset, archive_stem))
    return {name: source.Split(split["image"], {level: split[feature]
                                                for level, feature in shipped.items()})
            for name, split in arrays.items()}


def read_cifar100(config):
    """CIFAR-100's train and test splits with the labels shipped ("fine", "coarse")."""
    return _read_splits("cifar100", "cifar-100",
                        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                        {"fine": "label", "coarse": "coarse_label"}, config)


def read_cifar10(config):
    """CIFAR-10's train and test splits with their labels ("fine")."""
    return _read_splits("cifar10", "cifar-10",
                        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                        {"fine": "label"}, config)


@source.DATASETS.register("cifar100",
                         description="32x32 colour, heads fine (100), coarse (20), top (8)")
def load_cifar100(config):
    """Returns CIFAR-100 as a `DataSource`, heads from --heads (default fine, coarse)."""
    return hierarchical.make_source("cifar100", read_cifar100(config), config,
                                    synthetic_data=config.synthetic)


@source.DATASETS.register("cifar10",
                         description="32x32 colour, heads fine (10), mid (7), coarse (2)")
def load_cifar10(config):
    """Returns CIFAR-10 as a `DataSource`, heads from --heads (default fine, mid, coarse)."""
    return hierarchical.make_source("cifar10", read_cifar10(config), config,
                                    synthetic_data=config.synthetic)
