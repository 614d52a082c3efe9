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
from mtl_keras.data.source import DATASETS


def load(config):
    """Loads the dataset that `config.dataset` names; "tfds:NAME" is the "tfds" loader's."""
    return DATASETS.get(config.dataset.partition(":")[0])(config)
