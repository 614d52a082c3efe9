"""The registered datasets (`source.DATASETS`): a file each, whose loader takes the run's
`Config` and returns a `source.DataSource`, and its import below, which registers it.

Beside them, two readers that are no dataset of their own: `cifar_archive` (CIFAR's original
archives, for `cifar`) and `tfds_source` (a TensorFlow Datasets download, with a clear error
offline, for `cifar`, `omniglot` and `tfds_dataset`).
"""

from mtl_keras.data.datasets import cifar  # noqa: F401  (registers cifar100, cifar10)
from mtl_keras.data.datasets import cifar100_tasks  # noqa: F401  (registers cifar100_tasks)
from mtl_keras.data.datasets import cifar10_ovr  # noqa: F401  (registers cifar10_ovr)
from mtl_keras.data.datasets import faces  # noqa: F401  (registers utkface)
from mtl_keras.data.datasets import fashion_mnist  # noqa: F401  (registers fashion_mnist)
from mtl_keras.data.datasets import fashion_mnist_ovr  # noqa: F401  (registers fashion_mnist_ovr)
from mtl_keras.data.datasets import folder  # noqa: F401  (registers folder)
from mtl_keras.data.datasets import multi_fashion  # noqa: F401  (registers multi_fashion)
from mtl_keras.data.datasets import omniglot  # noqa: F401  (registers omniglot)
from mtl_keras.data.datasets import tfds_dataset  # noqa: F401  (registers tfds, used as tfds:NAME)
