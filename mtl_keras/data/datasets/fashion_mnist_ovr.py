"""Fashion-MNIST as 10 one-vs-rest binary tasks, each on images of its own.

Task "Trouser" answers "is this a trouser?" on a balanced share of the images: half of
the trousers, and as many images of the other nine articles (`families.one_vs_rest_owners`).
Every image belongs to one task; its other heads' labels are absent (mask 0). The images
are the real ones of `fashion_mnist` (Debian's package, --data_dir, or a download).
"""

from mtl_keras.data import source
from mtl_keras.data.datasets import fashion_mnist
from mtl_keras.data.labels import families
from mtl_keras.data.labels import hierarchy


@source.DATASETS.register("fashion_mnist_ovr",
                         description="task family: Fashion-MNIST as 10 one-vs-rest binary tasks")
def load_fashion_mnist_ovr(config):
    """Returns Fashion-MNIST's one-vs-rest task family as a `DataSource`."""
    class_names = hierarchy.load("fashion_mnist", ("fine",)).class_names["fine"]
    return families.one_vs_rest_source("fashion_mnist_ovr", class_names, fashion_mnist.read_splits(config), config)
