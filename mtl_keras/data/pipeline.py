"""tf.data input pipelines: cache · shuffle(seed) · augment · batch(global) · prefetch.

Images stay uint8 all the way to the model (rescaling and normalization are layers
inside it), which keeps the cache four times smaller than float32 and lets the saved
model take raw images.
"""

import tensorflow as tf

_PAD = 4


def make_dataset(split, batch_size, training, seed=0, augment=True, deterministic=False):
    """Returns a batched `tf.data.Dataset` of (images, {task name: labels}[, {task name: masks}]).

    Args:
      split: a `source.Split`.
      batch_size: the global batch size.
      training: shuffle, augment and drop the last partial batch when True.
      seed: seed of the shuffle and of the augmentation.
      augment: pad-4 random crop and horizontal flip (training only).
      deterministic: keep element order fixed in parallel maps (slower).
    """
    labels = {name: tf.constant(values, tf.int32 if values.dtype.kind in "iu" else tf.float32)
              for name, values in split.labels.items()}
    elements = (split.images, labels)
    if split.masks is not None:  # per-head sample weights: 0 where a label is missing
        elements += ({name: tf.constant(m, tf.float32) for name, m in split.masks.items()},)
    dataset = tf.data.Dataset.from_tensor_slices(elements).cache()
    if training:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
        if augment:
            # One stateless seed per element: the same seed gives the same crops and flips
            # in every run, whatever the thread scheduling of the parallel map.
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
            dataset = tf.data.Dataset.zip(dataset, seeds).map(
                _crop_and_flip, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    # In memory, there are no files to shard over workers: each worker builds the same
    # seeded order of global batches and keeps its own slice of every batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def mirrored(dataset):
    """The batched `dataset` with every image flipped left-right (test-time augmentation)."""
    return dataset.map(lambda images, *rest: (tf.image.flip_left_right(images), *rest),
                       num_parallel_calls=tf.data.AUTOTUNE)


def _crop_and_flip(element, seed):
    image, *targets = element
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    height, width, channels = image.shape
    padded = tf.pad(image, [[_PAD, _PAD], [_PAD, _PAD], [0, 0]])
    image = tf.image.stateless_random_crop(padded, (height, width, channels), seed=crop_seed)
    image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return (image, *targets)
