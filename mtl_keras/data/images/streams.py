"""Images that tf.data reads from disk while a run trains, instead of an array in memory.

A split whose images are too many to hold decoded (`size_rule.in_memory`) keeps an
`ImageStream` in place of its image array; its labels and masks stay arrays (a few bytes
per image), looked up by each image's position in the split. The kinds:

- `FileStream`: the folder's own files, decoded and resized again every epoch, in parallel;
- `record_cache.RecordStream`: shards of decoded images (TFRecord) written once into
  --cache_dir; over several workers, each reads its own shards (AutoShardPolicy.FILE);
- `tfds_dataset.TfdsStream`: a TensorFlow Datasets split, read from TFDS' own shards.

Training order is shuffled without holding the data, seeded: a `FileStream` shuffles the
list of its files' positions every epoch; a `RecordStream` the order of its shards every
epoch, then a buffer of at most SHUFFLE_BUFFER_BYTES of images (the shards were written in
a fixed random order, so that neighbours in a shard are unrelated).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mtl_keras.data import source
from mtl_keras.data.images import decoding
from mtl_keras.data.images import convert as images_lib

SHUFFLE_BUFFER_BYTES = 64 << 20  # of decoded images, whatever the dataset's size
MIN_SHUFFLE_BUFFER = 1024  # images, for large images


def shuffle_buffer(count, image_bytes):
    """The number of images a stream's shuffle buffer holds (a bounded amount of memory)."""
    return int(min(count, max(MIN_SHUFFLE_BUFFER, SHUFFLE_BUFFER_BYTES // image_bytes)))


class ImageStream:
    """The images of one split, read from disk by tf.data.

    Subclasses set `count`, `image_shape` (H, W, C), `mean` and `std` (the images'
    per-channel statistics in [0, 1], measured when the stream was made: a model
    standardizes its inputs with the training split's) and implement `elements` and `first`.
    """

    # Where the images live (`source.STORAGES`): decoded from their files or a dataset's
    # records every time they are read.
    storage = "streamed"
    # How tf.distribute may split the training stream over workers: DATA (each worker reads
    # everything and keeps its share of every batch) unless the stream is made of files.
    training_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    def __len__(self):
        return self.count

    @property
    def shape(self):
        """N×H×W×C, as an image array's."""
        return (self.count, *self.image_shape)

    def elements(self, split, training, seed):
        """A `tf.data.Dataset` of (uint8 image, {head: label}[, {head: mask}]).

        Its order is always a function of the seed (its parallel maps keep their order):
        the augmentation seeds are drawn in that order, so that an epoch's content is the
        same for the same seed, as in memory.

        Args:
          split: the `source.Split` this stream is the images of (its labels and masks).
          training: shuffle (seeded by `seed`) when True; else the split's order.
        """
        raise NotImplementedError

    def first(self, count):
        """The first `count` images of the split, a uint8 array."""
        raise NotImplementedError


def label_tensors(arrays):
    """{head: array} → {head: tensor}: class ids as int32, everything else float32."""
    return {name: tf.constant(values, tf.int32 if values.dtype.kind in "iu" else tf.float32)
            for name, values in arrays.items()}


def attach_labels(indexed, split):
    """(position, image) elements → (image, labels[, masks]) from the split's arrays."""
    labels = label_tensors(split.labels)
    masks = None if split.masks is None else label_tensors(split.masks)

    def attach(position, image):
        element = (image, {name: tf.gather(values, position) for name, values in labels.items()})
        if masks is not None:  # per-head sample weights: 0 where a label is missing
            element += ({name: tf.gather(values, position) for name, values in masks.items()},)
        return element

    return indexed.map(attach, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


@dataclasses.dataclass(frozen=True, eq=False)
class FileStream(ImageStream):
    """A split's image files, decoded and resized in tf.data every time they are read.

    Attributes:
      paths: the files, in the split's order.
      image_size: the side of the square they are resized to.
      mean, std: their per-channel statistics (measured by the pass that checked them).
    """

    paths: tuple
    image_size: int
    mean: np.ndarray
    std: np.ndarray

    @property
    def count(self):
        return len(self.paths)

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, 3)

    def _decoded(self, positions):
        paths = tf.constant(self.paths)
        return positions.map(
            lambda position: (position, images_lib.decode(tf.gather(paths, position),
                                                          self.image_size, self.image_size)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def elements(self, split, training, seed):
        positions = tf.data.Dataset.range(self.count)
        if training:  # the file order, a list of numbers, reshuffled every epoch
            positions = positions.shuffle(self.count, seed=seed, reshuffle_each_iteration=True)
        return attach_labels(self._decoded(positions), split)

    def first(self, count):
        decoded = self._decoded(tf.data.Dataset.range(min(count, self.count)))
        return np.stack([image for _, image in decoded.as_numpy_iterator()])


def open_files(splits, image_size):
    """{split name: FileStream} of {split name: `folder.Row`s}, after one pass that checks
    every image (a bad one is named before training) and measures the training images."""
    for rows in splits.values():
        decoding.check_files(rows)
    print(f"[mtl_keras] checking {sum(len(rows) for rows in splits.values())} images (decoded "
          f"again every epoch; --cache_dir decodes them once)", flush=True)
    moments = source.ChannelMoments(3)
    for name, rows in splits.items():
        for _, images in decoding.decoded_batches(rows, image_size):
            if name == "train":
                moments.add(images)
    mean, std = moments.statistics()
    return {name: FileStream(tuple(row.path for row in rows), image_size, mean, std)
            for name, rows in splits.items()}
