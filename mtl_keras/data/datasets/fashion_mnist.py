"""Fashion-MNIST (70,000 real 28×28 grey photographs) with its three-level hierarchy:
fine (10 articles) → mid (6 groups) → coarse (2 families), after Seo & Shin 2019.

The four idx files are read from `--data_dir`, else from Debian's package folder
(`apt-get install -y dataset-fashion-mnist`), else downloaded through Keras. Their gzip
headers differ from upstream's, so they are parsed here rather than checksummed.
"""

import gzip
import os
import zlib

import numpy as np

from mtl_keras import errors
from mtl_keras.data import source
from mtl_keras.data.labels import hierarchical

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
IMAGE_SHAPE = (28, 28, 1)


def read_idx(path):
    """Returns the array in an idx file (gzip-compressed or not), checked against its header.

    Raises:
      UserError: the file is missing, truncated, corrupt or not an unsigned-byte idx file.
    """
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as idx_file:
            payload = idx_file.read()
    except FileNotFoundError:
        raise errors.UserError(f"{path} does not exist.") from None
    except (OSError, EOFError, zlib.error) as error:
        raise errors.UserError(f"{path} is corrupt or truncated ({error}); reinstall or download "
                               f"it again.") from None
    if len(payload) < 4 or payload[:2] != b"\0\0" or payload[2] != 0x08:
        raise errors.UserError(f"{path} is not an idx file of unsigned bytes (bad magic number).")
    ndim = payload[3]
    dims = np.frombuffer(payload[4:4 + 4 * ndim], dtype=">u4").astype(np.int64)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if len(dims) != ndim or len(payload) != expected:
        raise errors.UserError(f"{path} holds {len(payload)} bytes where its header promises "
                               f"{expected}; the file is truncated or corrupt.")
    return np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _folder(data_dir):
    if data_dir:
        return data_dir
    if all(os.path.exists(os.path.join(DEBIAN_DIR, name)) for pair in _FILES.values() for name in pair):
        return DEBIAN_DIR
    return None


def _read_splits(folder):
    splits = {}
    for split, (images_name, labels_name) in _FILES.items():
        images = read_idx(os.path.join(folder, images_name))
        labels = read_idx(os.path.join(folder, labels_name)).astype(np.int64)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise errors.UserError(f"{folder}: {images_name} ({images.shape}) and {labels_name} "
                                   f"({labels.shape}) do not describe the same images.")
        splits[split] = source.Split(images[..., None], {"fine": labels})
    return splits


def read_or_download(data_dir):
    """Returns {"train": Split, "test": Split} of the real images, labels {"fine": ...}.

    Args:
      data_dir: the folder of the four idx files, or "" for Debian's folder, else a download.
    """
    folder = _folder(data_dir)
    return _read_splits(folder) if folder else _download()


def _download():
    import keras  # Imported late: only this path needs it.

    try:
        (train_images, train_labels), (test_images, test_labels) = keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # pylint: disable=broad-except  (many network error types)
        raise errors.UserError(
            f"Fashion-MNIST is not in {DEBIAN_DIR} and could not be downloaded "
            f"({type(error).__name__}). Install it with `apt-get install -y dataset-fashion-mnist` "
            f"or pass --data_dir=FOLDER holding the four idx .gz files.") from None
    return {"train": source.Split(train_images[..., None], {"fine": train_labels.astype(np.int64)}),
            "test": source.Split(test_images[..., None], {"fine": test_labels.astype(np.int64)})}


def read_splits(config):
    """The train and test splits, labels {"fine": article ids} (made up with --synthetic)."""
    if config.synthetic:
        return hierarchical.synthetic_splits("fashion_mnist", IMAGE_SHAPE, config)
    return read_or_download(config.data_dir)


@source.DATASETS.register("fashion_mnist",
                         description="28x28 grey articles, heads fine (10), mid (6), coarse (2)")
def load_fashion_mnist(config):
    """Returns Fashion-MNIST as a `DataSource`, heads from --heads (default fine, mid, coarse)."""
    return hierarchical.make_source("fashion_mnist", read_splits(config), config,
                                    synthetic_data=config.synthetic)
