"""tf.data input pipelines: cache · shuffle(seed) · augment · batch(global) · prefetch, for
images in memory; for images streamed from disk, the stream's own reading and shuffling
(`streams`) · augment · batch(global) · prefetch.

Images stay uint8 all the way to the model (rescaling and normalization are layers
inside it), which keeps the cache four times smaller than float32 and lets the saved
model take raw images.
"""

import tensorflow as tf

from mtl_keras.data.images import streams

_PAD = 4


def make_dataset(split, batch_size, training, seed=0, augment=True, deterministic=False,
                 random_erasing=0.0, flip=True):
    """Returns a batched `tf.data.Dataset` of (images, {task name: labels}[, {task name: masks}]).

    Args:
      split: a `source.Split`: images in memory, or a stream read from disk.
      batch_size: the global batch size.
      training: shuffle, augment and drop the last partial batch when True.
      seed: seed of the shuffle and of the augmentation.
      augment: pad-4 random crop and horizontal flip (training only).
      flip: with `augment`, whether the horizontal flip is part of it.
      deterministic: keep element order fixed in parallel maps (slower).
      random_erasing: with `augment`, the probability that a training image also has one
        random rectangle (2–40 % of its area, aspect ratio 0.3–3.3) replaced by noise
        (Zhong et al., "Random Erasing Data Augmentation", 2017).
    """
    # In memory, there are no files to shard over workers: each worker builds the same
    # seeded order of global batches and keeps its own slice of every batch. A stream of
    # record shards is split by file in training: each worker reads its own shards.
    shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    if split.in_memory:
        elements = (split.images, streams.label_tensors(split.labels))
        if split.masks is not None:  # per-head sample weights: 0 where a label is missing
            elements += (streams.label_tensors(split.masks),)
        dataset = tf.data.Dataset.from_tensor_slices(elements).cache()
        if training:
            dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    else:
        # In its order whatever `deterministic`: the split's order for evaluation (scored
        # against its label arrays), a seeded one for training.
        dataset = split.images.elements(split, training, seed)
        if training:
            shard_policy = split.images.training_shard_policy
        else:  # Keras warns of data "running out" when it cannot know the number of batches
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(split)))
    if training and augment:
        dataset = _with_seeds(dataset, seed, split.in_memory).map(
            lambda element, seed: _augment(element, seed, random_erasing, flip),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = shard_policy
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _with_seeds(dataset, seed, in_memory):
    """(element, stateless seed) pairs: one seed per element, so that the same seed gives
    the same crops and flips in every run, whatever the thread scheduling of the parallel
    map, and every pass over the data new ones."""
    if in_memory:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        return tf.data.Dataset.zip(dataset, seeds)
    # Splitting a stream by file (AutoShardPolicy.FILE) refuses a second source such as
    # Dataset.random: the seeds are drawn in a sequential map, in element order, from a
    # generator that keeps its state from one pass to the next.
    return dataset.map(lambda *element: (element, tf.random.uniform(
        [2], maxval=tf.int64.max, dtype=tf.int64, seed=seed)))


def predict(model, split, batch_size):
    """`model`'s outputs for every image of `split`, in order: {head: array}."""
    if split.in_memory:
        return model.predict(split.images, batch_size=batch_size, verbose=0)
    return model.predict(make_dataset(split, batch_size, training=False), verbose=0)


def test_views(dataset, flip=False, shift=0):
    """The batched `dataset` as seen by test-time augmentation: a list of datasets.

    The first is `dataset` itself; `shift` > 0 adds the images moved by `shift` pixels up,
    down, left and right (the uncovered border filled with zeros, as the training crops pad);
    `flip` adds the left-right mirror of every view. Labels stay as they are.
    """
    views = [dataset]
    if shift:
        views += [_moved(dataset, rows, columns, shift)
                  for rows, columns in ((-shift, 0), (shift, 0), (0, -shift), (0, shift))]
    if flip:
        views += [view.map(lambda images, *rest: (tf.image.flip_left_right(images), *rest),
                           num_parallel_calls=tf.data.AUTOTUNE) for view in views]
    return views


def _moved(dataset, rows, columns, shift):
    """The batched `dataset` with its images moved by (rows, columns) pixels, zero-filled."""
    def move(images, *rest):
        height, width = images.shape[1], images.shape[2]
        padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
        top, left = shift - rows, shift - columns
        return (padded[:, top:top + height, left:left + width], *rest)
    return dataset.map(move, num_parallel_calls=tf.data.AUTOTUNE)


def _augment(element, seed, random_erasing, flip):
    image, *targets = element
    crop_seed, flip_seed, erase_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    height, width, channels = image.shape
    padded = tf.pad(image, [[_PAD, _PAD], [_PAD, _PAD], [0, 0]])
    image = tf.image.stateless_random_crop(padded, (height, width, channels), seed=crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    if random_erasing > 0:
        image = _erase(image, erase_seed, random_erasing)
    return (image, *targets)


def _erase(image, seed, probability):
    """With `probability`, replaces one random rectangle of the uint8 `image` by noise."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 6))
    height, width, channels = image.shape
    area = tf.random.stateless_uniform((), seeds[0], 0.02, 0.4) * height * width
    aspect = tf.exp(tf.random.stateless_uniform((), seeds[1], tf.math.log(0.3), tf.math.log(3.3)))
    box_height = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32), 1, height)
    box_width = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32), 1, width)
    top = tf.random.stateless_uniform((), seeds[2], 0, height - box_height + 1, tf.int32)
    left = tf.random.stateless_uniform((), seeds[3], 0, width - box_width + 1, tf.int32)
    rows = tf.range(height)[:, None, None]
    columns = tf.range(width)[None, :, None]
    inside = (rows >= top) & (rows < top + box_height) & (columns >= left) & (columns < left + box_width)
    inside &= tf.random.stateless_uniform((), seeds[4]) < probability
    noise = tf.random.stateless_uniform((height, width, channels), seeds[5], 0, 256, tf.int32)
    return tf.where(inside, tf.cast(noise, image.dtype), image)
