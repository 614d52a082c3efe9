"""CIFAR-10 as 10 one-vs-rest binary tasks, each on images of its own.

Task "cat" answers "is this a cat?" on a balanced share of the images (half of the cats
and as many images of the other classes, `families.one_vs_rest_owners`); an image's other
heads' labels are absent (mask 0). The images come as `cifar10`'s do: --synthetic,
--archive, or TensorFlow Datasets.
"""

from mtl_keras.data import source
from mtl_keras.data.datasets import cifar
from mtl_keras.data.labels import families
from mtl_keras.data.labels import hierarchy


@source.DATASETS.register("cifar10_ovr",
                         description="task family: CIFAR-10 as 10 one-vs-rest binary tasks")
def load_cifar10_ovr(config):
    """Returns CIFAR-10's one-vs-rest task family as a `DataSource`."""
    class_names = hierarchy.load("cifar10", ("fine",)).class_names["fine"]
    return families.one_vs_rest_source("cifar10_ovr", class_names, cifar.read_cifar10(config), config)
