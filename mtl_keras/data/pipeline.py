"""tf.data input pipelines: cache · shuffle(seed) · augment · batch(global) · prefetch.

Images stay uint8 all the way to the model (rescaling and normalization are layers
inside it), which keeps the cache four times smaller than float32 and lets the saved
model take raw images.
"""

import tensorflow as tf

_PAD = 4


def make_dataset(split, batch_size, training, seed=0, augment=True, deterministic=False,
                 random_erasing=0.0, flip=True):
    """Returns a batched `tf.data.Dataset` of (images, {task name: labels}[, {task name: masks}]).

    Args:
      split: a `source.Split`.
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
                lambda element, seed: _augment(element, seed, random_erasing, flip),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    # In memory, there are no files to shard over workers: each worker builds the same
    # seeded order of global batches and keeps its own slice of every batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


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
