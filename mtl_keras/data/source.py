"""What a registered dataset hands to the trainer: splits of images and labels plus head
descriptions. A split's images are a uint8 array in memory, or an `ImageStream` that
tf.data reads from disk (`mtl_keras.data.images.streams`); its labels are always arrays."""

import dataclasses

import numpy as np

from mtl_keras import errors
from mtl_keras import registry
from mtl_keras import tasks as tasks_lib
from mtl_keras import size_rule


# Where a split's images live: decoded in memory (a uint8 array), streamed (decoded from
# their files or a dataset's records at every read: `streams.ImageStream`), or cached
# (decoded once into record shards on disk: `record_cache.RecordStream`).
STORAGES = ("memory", "streamed", "cached")


@dataclasses.dataclass(frozen=True)
class Split:
    """Images and their labels.

    Attributes:
      images: uint8, N×H×W×C: a numpy array, or a `streams.ImageStream` read from disk.
      labels: {task name: array of N labels}: class ids (int) for multiclass heads,
        N×1 floats for binary and regression heads, N×K 0/1 floats for multilabel heads.
      masks: None when every label is known, else {task name: N floats}, 1 where the
        label is known and 0 where it is missing (the label there is a placeholder).
    """

    images: np.ndarray
    labels: dict
    masks: dict = None

    def __len__(self):
        return len(self.images)

    @property
    def storage(self):
        """Where the images live, one of `STORAGES`: "memory" for an array, else what the
        stream declares."""
        return "memory" if isinstance(self.images, np.ndarray) else self.images.storage

    @property
    def in_memory(self):
        """Whether the images are a numpy array (else a stream read by tf.data)."""
        return self.storage == "memory"

    def known(self, name):
        """Which examples' labels of head `name` are known: a boolean array (every one when
        the split has no masks). The one place that reads the masks so."""
        if self.masks is None:
            return np.ones(len(self), bool)
        return self.masks[name] > 0

    def heads_share_examples(self, names):
        """Whether some example has known labels of two or more of the heads `names`."""
        return bool(np.any(sum(self.known(name).astype(np.int32) for name in names) > 1))

    def first_images(self, count):
        """The first `count` images, as a uint8 array."""
        return self.images[:count] if self.in_memory else self.images.first(count)

    def take(self, index):
        """Returns the split restricted to `index` (a slice or an index array); in memory only."""
        masks = None if self.masks is None else {name: m[index] for name, m in self.masks.items()}
        return Split(self.images[index], {name: y[index] for name, y in self.labels.items()}, masks)


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A dataset ready for the pipeline.

    Attributes:
      name: the registered dataset name.
      tasks: the heads, a tuple of `tasks.Task`, in output order.
      train, validation, test: the splits; `validation` may be None.
      hierarchy: the label hierarchy over the heads, or None.
      synthetic: True when the images are made up (smoke runs), not real data.
      mirror_keeps_labels: False when a left-right mirror of an image would change what its
        labels mean (heads named after positions): such data is never flipped.
      family: for a task family (tasks that split one label space, each on its own
        images), its `families.Family`; else None.
    """

    name: str
    tasks: tuple
    train: Split
    validation: Split
    test: Split
    hierarchy: object = None
    synthetic: bool = False
    mirror_keeps_labels: bool = True
    family: object = None

    def __post_init__(self):
        # Checked as the data loads, so that a run cannot train and then fail to score.
        splits = {"training": self.train, "test": self.test, "validation": self.validation}
        for split_name, split in splits.items():
            if split is not None and not len(split):
                raise errors.UserError(f"The {split_name} split of {self.name} is empty; check "
                                       f"the data's files or its split settings.")
        for task in self.tasks:
            if self.test.masks is not None and not self.test.masks[task.name].any():
                raise errors.UserError(f"Head {task.name!r} has no known label in the test split, "
                                       f"so it cannot be scored; label some of its test images.")
        tasks_lib.check_heads(self.tasks)

    @property
    def image_shape(self):
        """Shape of one image, H×W×C."""
        return self.train.images.shape[1:]


def carve_validation(train, validation_size):
    """Splits the last `validation_size` training examples off as a validation split.

    The original training files are already in random order, so the last examples
    form a fair, fixed validation set that does not move with the seed.

    Args:
      train: the training `Split`.
      validation_size: the --validation_size flag (-1: chosen by `size_rule`).

    Returns:
      (train, validation), validation being None when validation_size is 0.
    """
    validation_size = size_rule.validation_size(validation_size, len(train))
    check_validation_size(validation_size, len(train))
    if validation_size == 0:
        return train, None
    cut = len(train) - validation_size
    return train.take(slice(0, cut)), train.take(slice(cut, None))


def check_validation_size(validation_size, num_train):
    """Raises UserError unless `validation_size` examples can be held out of `num_train`
    training examples with at least one left to train on. Every dataset checks it here."""
    if validation_size != 0 and not 0 < validation_size < num_train:
        raise errors.UserError(
            f"--validation_size={validation_size} must be at least 0 and below the {num_train} "
            f"training examples (0: no validation split).")


def channel_statistics(images):
    """Returns per-channel mean and standard deviation of uint8 images, scaled to [0, 1].

    `images` is an array, or an `ImageStream`, which measured them when it was made.
    """
    if not isinstance(images, np.ndarray):
        return images.mean, images.std
    moments = ChannelMoments(images.shape[-1])
    moments.add(images)
    return moments.statistics()


class ChannelMoments:
    """Running per-channel sums of uint8 images, for their mean and standard deviation."""

    def __init__(self, channels):
        self.count = 0
        self.total = np.zeros(channels)
        self.total_squares = np.zeros(channels)

    def add(self, images):
        """Adds the pixels of uint8 `images` (…×C)."""
        pixels = images.reshape(-1, images.shape[-1])
        # Chunked so that a CIFAR-sized array is not copied to float64 all at once.
        for start in range(0, len(pixels), 1 << 20):
            chunk = pixels[start:start + (1 << 20)].astype(np.float64) / 255.0
            self.total += chunk.sum(axis=0)
            self.total_squares += np.square(chunk).sum(axis=0)
        self.count += len(pixels)

    def statistics(self):
        """(mean, standard deviation) per channel, float32, of the pixels added so far."""
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.total_squares / self.count - np.square(mean), 1e-12))
        return mean.astype(np.float32), std.astype(np.float32)


DATASETS = registry.Registry("dataset", flag="--dataset")
