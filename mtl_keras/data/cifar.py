"""CIFAR-100 with its fine (100) and coarse (20) labels as two heads.

Sources, in order: `--synthetic` (made-up images of the same shape), `--archive`
(an original archive on disk), else TensorFlow Datasets (downloads when needed).
Whatever the source, the coarse labels shipped with the data are checked against
the published fine → coarse hierarchy; a disagreement is an error.
"""

from mtl_keras import tasks
from mtl_keras.data import cifar_archive
from mtl_keras.data import hierarchy as hierarchy_lib
from mtl_keras.data import source
from mtl_keras.data import synthetic
from mtl_keras.data import tfds_source

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
CIFAR100_OFFLINE_HELP = (
    "Two ways forward: (1) on a machine with internet, run "
    "`python -c \"import tensorflow_datasets as tfds; tfds.builder('cifar100').download_and_prepare()\"`, "
    "copy its ~/tensorflow_datasets folder here and pass --data_dir=THAT_FOLDER; or (2) download "
    "cifar-100-python.tar.gz or cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
    "and pass --archive=PATH_TO_IT."
)
_SHAPE = (32, 32, 3)


@source.DATASETS.register("cifar100")
def load_cifar100(config):
    """Returns CIFAR-100 as a `DataSource` with heads "fine" and "coarse".

    Args:
      config: the run's `config.Config` (synthetic, archive, data_dir, validation_size, seed).
    """
    hierarchy = hierarchy_lib.cifar100()
    if config.synthetic:
        size = config.synthetic_examples
        splits = {"train": synthetic.make_split(hierarchy, size, _SHAPE, config.seed),
                  "test": synthetic.make_split(hierarchy, max(size // 4, 1), _SHAPE, config.seed + 1)}
    elif config.archive:
        splits = cifar_archive.read(config.archive)
    else:
        arrays = tfds_source.load_arrays("cifar100", config.data_dir or None, CIFAR100_URL,
                                         CIFAR100_OFFLINE_HELP)
        splits = {name: source.Split(split["image"], {"fine": split["label"],
                                                      "coarse": split["coarse_label"]})
                  for name, split in arrays.items()}
    for name, split in splits.items():
        hierarchy.check(split.labels, where=f"CIFAR-100 {name} split")
    train, validation = source.carve_validation(splits["train"], config.validation_size)
    heads = (
        tasks.Task("fine", hierarchy.num_classes("fine"), hierarchy.class_names["fine"],
                   metrics=("accuracy", "top5_accuracy")),
        tasks.Task("coarse", hierarchy.num_classes("coarse"), hierarchy.class_names["coarse"],
                   metrics=("accuracy",)),
    )
    return source.DataSource(name="cifar100", tasks=heads, train=train, validation=validation,
                             test=splits["test"], hierarchy=hierarchy, synthetic=config.synthetic)
