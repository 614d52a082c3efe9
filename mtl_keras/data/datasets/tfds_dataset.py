"""Any TensorFlow Datasets dataset as a multi-task source: `--dataset=tfds:NAME --tasks=...`.

`--tasks` maps the dataset's features to heads (`tfds_features`, `task_spec`). CelebA:
`--tasks=attributes:multilabel` trains its 40 attributes as one multilabel head,
`--tasks=attributes/*:binary` as 40 binary heads, and
`--tasks=smiling=attributes/Smiling:binary,nose_x=landmarks/nose_x:regression` two heads.

The images (feature "image") are read from TFDS' own shards, decoded and resized to
--image_size in tf.data while training, never gathered into numpy; only the labels are,
once, by a pass that leaves the images encoded. With --in_memory (auto: at most 1 GiB of
decoded images) they are decoded into memory once instead, like a folder's: every protocol
(task sampling too) and pipeline then treats them as in-memory data. Splits: TFDS'
train, validation (else the last --validation_size training examples) and test. A dataset
that is not prepared is downloaded; offline, the error says how to prepare it elsewhere.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import size_rule
from mtl_keras.data import source
from mtl_keras.data.datasets import tfds_source
from mtl_keras.data.images import convert as images_lib
from mtl_keras.data.images import streams
from mtl_keras.data.labels import cells as labels_lib
from mtl_keras.data.labels import task_spec
from mtl_keras.data.labels import tfds_features

IMAGE_FEATURE = "image"
STATISTICS_IMAGES = 10_000  # training images the channel statistics are measured on
_PROBE_URL = "https://storage.googleapis.com"  # when the dataset names no homepage


@dataclasses.dataclass(frozen=True, eq=False)
class TfdsStream(streams.ImageStream):
    """A TFDS split's images, decoded and resized in tf.data, with their labels.

    Attributes:
      builder: the prepared `tfds.core.DatasetBuilder`.
      split_name: a TFDS split, e.g. "train" or "train[-5000:]".
      count: its number of examples.
      image_size: the side of the square the images are resized to.
      labels: the tf function of an example → {head: label} (`tfds_features`).
      mean, std: the training images' per-channel statistics.
    """

    builder: object
    split_name: str
    count: int
    image_size: int
    labels: object
    mean: np.ndarray
    std: np.ndarray

    # TFDS' shards are files: AUTO splits them over workers by file when it can.
    training_shard_policy = tf.data.experimental.AutoShardPolicy.AUTO

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, 3)

    def _examples(self, training=False, seed=0):
        import tensorflow_datasets as tfds  # noqa: PLC0415  (slow to import)

        read_config = tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=True)
        return self.builder.as_dataset(split=self.split_name, shuffle_files=training,
                                       read_config=read_config)

    def _image(self, example):
        return images_lib.fit(example[IMAGE_FEATURE], self.image_size, self.image_size, 3)

    def elements(self, split, training, seed):
        dataset = self._examples(training, seed).map(
            lambda example: (self._image(example), self.labels(example)),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if training:
            buffer = streams.shuffle_buffer(self.count, int(np.prod(self.image_shape)))
            dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        return dataset

    def first(self, count):
        images = self._examples().take(count).map(self._image)
        return np.stack(list(images.as_numpy_iterator()))

    def measure(self, count):
        """Per-channel (mean, std) of the split's first `count` images."""
        moments = source.ChannelMoments(3)
        images = self._examples().take(count).map(self._image,
                                                  num_parallel_calls=tf.data.AUTOTUNE).batch(256)
        for batch in images.as_numpy_iterator():
            moments.add(batch)
        return moments.statistics()


@source.DATASETS.register("tfds", description="tfds:NAME, a TensorFlow Datasets dataset whose "
                                              "features --tasks maps to heads")
def load_tfds(config):
    """Returns the TFDS dataset `--dataset=tfds:NAME` names, heads from --tasks."""
    name = config.dataset.partition(":")[2].strip()
    if not name:
        raise errors.UserError("--dataset=tfds:NAME needs the name of a TensorFlow Datasets "
                               "dataset, e.g. --dataset=tfds:celeb_a.")
    if bool(config.tasks) == bool(config.tasks_file):
        raise errors.UserError(f"--dataset=tfds:{name} needs the heads: give --tasks (e.g. "
                               f"--tasks=attributes:multilabel) or --tasks_file (one of them).")
    builder = _builder(name, config.data_dir or None)
    specs, class_names = _heads(config, builder.info.features, name)
    label_function = tfds_features.label_function(specs, builder.info.features)
    split_names = _split_names(builder, name, config.validation_size)
    labels = {split: _read_labels(builder, split_name, label_function)
              for split, split_name in split_names.items()}
    train_labels = labels["train"]
    tasks = tuple(labels_lib.make_task(spec, class_names[spec.name], train_labels[spec.name],
                                       np.ones(len(train_labels[spec.name]), np.float32))
                  for spec in specs)
    sizes = {split: len(values[specs[0].name]) for split, values in labels.items()}
    for split, values in labels.items():
        tfds_features.check_labels(tasks, values, split)
    cached = size_rule.in_memory(config.in_memory, sum(sizes.values()),
                                 3 * config.image_size ** 2)
    mean, std = TfdsStream(builder, split_names["train"], 0, config.image_size, label_function,
                           None, None).measure(STATISTICS_IMAGES)
    streams_of = {split: TfdsStream(builder, split_names[split], sizes[split], config.image_size,
                                    label_function, mean, std) for split in labels}
    if cached:  # decoded into memory once, as a folder's images are: a Split like any other
        print(f"[mtl_keras] decoding {sum(sizes.values())} images of tfds:{name} into memory "
              f"(--in_memory)", flush=True)
    splits = {split: source.Split(streams_of[split].first(sizes[split]) if cached
                                  else streams_of[split], values)
              for split, values in labels.items()}
    return source.DataSource(name=f"tfds:{name}", tasks=tasks, train=splits["train"],
                             validation=splits.get("validation"), test=splits["test"])


def _heads(config, features, name):
    """The declared heads and their classes, each checked against its feature before any
    example is read. Returns (specs, {head: class names})."""
    if IMAGE_FEATURE not in features.keys():
        raise errors.UserError(f"tfds:{name} has no {IMAGE_FEATURE!r} feature to train on "
                               f"(features: {', '.join(features.keys())}).")
    specs = (task_spec.parse_tasks_flag(tfds_features.expand_patterns(config.tasks, features), True)
             if config.tasks else task_spec.read_tasks_file(config.tasks_file, True))
    return specs, {spec.name: tfds_features.class_names(
        spec, tfds_features.lookup(features, spec.source_name, "--tasks")) for spec in specs}


def _builder(name, data_dir):
    import tensorflow_datasets as tfds  # noqa: PLC0415  (slow to import)

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise errors.UserError(f"--dataset=tfds:{name}: TensorFlow Datasets has no dataset "
                               f"{name!r} (tfds.list_builders() lists them).") from None
    return tfds_source.prepared_builder(
        builder, builder.info.homepage or _PROBE_URL,
        f"To use it here, {tfds_source.prepare_elsewhere(name)}.")


def _split_names(builder, name, validation_size):
    """{"train", ["validation",] "test"} → the TFDS split each reads."""
    # The metadata lists no split for a dataset known only by its code (as under
    # tfds.testing.mock_data): then the usual three are assumed.
    available = set(builder.info.splits) or {"train", "validation", "test"}
    if not {"train", "test"} <= available:
        raise errors.UserError(f"tfds:{name} has the splits {', '.join(sorted(available))}; "
                               f"a run needs train and test.")
    if "validation" in available:
        return {"train": "train", "validation": "validation", "test": "test"}
    count = builder.info.splits["train"].num_examples
    size = size_rule.validation_size(validation_size, count)
    source.check_validation_size(size, count)
    if not size:
        return {"train": "train", "test": "test"}
    return {"train": f"train[:-{size}]", "validation": f"train[-{size}:]", "test": "test"}


def _read_labels(builder, split_name, label_function):
    """{head: numpy labels} of a split, in its order, without decoding its images."""
    import tensorflow_datasets as tfds  # noqa: PLC0415  (slow to import)

    print(f"[mtl_keras] reading the labels of {builder.name} {split_name}", flush=True)
    examples = builder.as_dataset(split=split_name, shuffle_files=False,
                                  decoders={IMAGE_FEATURE: tfds.decode.SkipDecoding()})
    parts = {}
    for batch in examples.map(label_function, num_parallel_calls=tf.data.AUTOTUNE).batch(4096):
        for head, values in batch.items():
            parts.setdefault(head, []).append(values.numpy())
    if not parts:
        raise errors.UserError(f"The {split_name} split of {builder.name} is empty.")
    return {head: np.concatenate(values) for head, values in parts.items()}
