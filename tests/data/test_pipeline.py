"""tf.data pipelines: batching, dtypes, seeded shuffling and augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.data import pipeline
from mtl_keras.data.source import Split

SHAPE = (8, 8, 3)


def _split(count):
    """Images that each hold one distinct pattern; label "index" says which image it is."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (count,) + SHAPE, dtype=np.uint8)
    index = np.arange(count)
    return Split(images, {"index": index, "parity": index % 2})


def _batches(dataset):
    return [(images.numpy(), {name: labels.numpy() for name, labels in labels.items()})
            for images, labels in dataset]


def test_training_batches_drop_the_remainder():
    split = _split(100)
    batches = _batches(pipeline.make_dataset(split, 32, training=True, seed=0))
    assert len(batches) == 3  # 100 // 32, the last 4 examples dropped
    for images, labels in batches:
        assert images.shape == (32,) + SHAPE
        assert images.dtype == np.uint8
        assert set(labels) == {"index", "parity"}
        assert labels["index"].shape == (32,) and labels["index"].dtype == np.int32
        np.testing.assert_array_equal(labels["parity"], labels["index"] % 2)  # pairs kept together
    indices = np.concatenate([labels["index"] for _, labels in batches])
    assert len(set(indices.tolist())) == 96


def test_evaluation_batches_keep_everything_in_order():
    split = _split(100)
    batches = _batches(pipeline.make_dataset(split, 32, training=False, seed=0))
    assert [len(images) for images, _ in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(np.concatenate([images for images, _ in batches]), split.images)
    np.testing.assert_array_equal(np.concatenate([labels["index"] for _, labels in batches]),
                                  np.arange(100))


def _views(split, flip, shift):
    dataset = pipeline.make_dataset(split, 16, training=False)
    views = []
    for view in pipeline.test_views(dataset, flip=flip, shift=shift):
        batches = _batches(view)
        np.testing.assert_array_equal(np.concatenate([labels["index"] for _, labels in batches]),
                                      np.arange(len(split)))  # labels stay with their images
        views.append(np.concatenate([images for images, _ in batches]))
    return views


def test_test_views_flip_mirrors_every_image_left_right():
    split = _split(40)
    plain, mirrored = _views(split, flip=True, shift=0)
    np.testing.assert_array_equal(plain, split.images)
    np.testing.assert_array_equal(mirrored, split.images[:, :, ::-1])
    assert len(_views(split, flip=False, shift=0)) == 1


def test_test_views_shift_moves_images_and_fills_zeros():
    split = _split(40)
    views = _views(split, flip=True, shift=2)
    assert len(views) == 10
    padded = np.pad(split.images, [[0, 0], [2, 2], [2, 2], [0, 0]])
    expected = [split.images]
    for rows, columns in ((-2, 0), (2, 0), (0, -2), (0, 2)):  # content moves by (rows, columns)
        expected.append(padded[:, 2 - rows:10 - rows, 2 - columns:10 - columns])
    expected += [view[:, :, ::-1] for view in expected]
    for view, wanted in zip(views, expected):
        np.testing.assert_array_equal(view, wanted)
    # Moved down by 2: the top two rows are zeros, the rest is the image's top.
    assert not views[2][:, :2].any()
    np.testing.assert_array_equal(views[2][:, 2:], split.images[:, :-2])


def test_no_augmentation_leaves_images_unchanged_but_shuffled():
    split = _split(96)
    batches = _batches(pipeline.make_dataset(split, 32, training=True, seed=5, augment=False))
    images = np.concatenate([images for images, _ in batches])
    indices = np.concatenate([labels["index"] for _, labels in batches])
    assert sorted(indices.tolist()) == list(range(96))  # every image exactly once
    np.testing.assert_array_equal(images, split.images[indices])  # each image untouched
    assert not np.array_equal(indices, np.arange(96))  # training data is shuffled


def test_augmentation_crops_and_flips():
    split = _split(64)
    images, labels = _batches(pipeline.make_dataset(split, 64, training=True, seed=1,
                                                    deterministic=True))[0]
    originals = split.images[labels["index"]]
    changed = [not np.array_equal(image, original) for image, original in zip(images, originals)]
    assert sum(changed) > 32  # most images are moved or mirrored
    # A crop shifts by at most 4 pixels and pads with zeros; a flip mirrors columns.
    # For every image some shift (dy, dx) and flip reproduces it from its original.
    padded = np.pad(originals, [(0, 0), (4, 4), (4, 4), (0, 0)])
    for image, source in zip(images, padded):
        candidates = [source[dy:dy + 8, dx:dx + 8] for dy in range(9) for dx in range(9)]
        candidates += [candidate[:, ::-1] for candidate in candidates]
        assert any(np.array_equal(image, candidate) for candidate in candidates)


@pytest.mark.parametrize("augment", [True, False])
def test_same_seed_same_first_batch_other_seed_differs(augment):
    split = _split(256)

    def first_batch(seed):
        dataset = pipeline.make_dataset(split, 32, training=True, seed=seed, augment=augment,
                                        deterministic=True)
        return _batches(dataset.take(1))[0]

    images_a, labels_a = first_batch(7)
    images_b, labels_b = first_batch(7)
    images_c, labels_c = first_batch(8)
    np.testing.assert_array_equal(images_a, images_b)
    np.testing.assert_array_equal(labels_a["index"], labels_b["index"])
    assert not np.array_equal(labels_a["index"], labels_c["index"])
    assert not np.array_equal(images_a, images_c)


def test_same_seed_same_epoch_content_with_parallel_nondeterministic_map():
    """With deterministic=False (the default) the parallel map may reorder elements, but an
    epoch holds the same augmented images for the same seed."""
    split = _split(128)

    def epoch(seed):
        batches = _batches(pipeline.make_dataset(split, 32, training=True, seed=seed))
        images = np.concatenate([images for images, _ in batches])
        indices = np.concatenate([labels["index"] for _, labels in batches])
        return {int(index): image.tobytes() for index, image in zip(indices, images)}

    assert epoch(11) == epoch(11)
    assert epoch(11) != epoch(12)


def test_epochs_are_reshuffled():
    dataset = pipeline.make_dataset(_split(64), 64, training=True, seed=0, augment=False)
    first, second = [labels["index"] for _, labels in _batches(dataset.repeat(2))]
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(64))
    assert not np.array_equal(first, second)


def test_repeated_passes_are_reshuffled_and_reaugmented_and_seeded():
    """Training fits one iterator over the repeated set: every pass must draw new crops and
    flips (the order: test_epochs_are_reshuffled), and the same seed the same passes."""
    split = _split(64)

    def passes(seed):
        dataset = pipeline.make_dataset(split, 64, training=True, seed=seed).repeat(2)
        return [{int(index): image.tobytes() for index, image in zip(labels["index"], images)}
                for images, labels in _batches(dataset)]

    first, second = passes(5)
    assert sorted(first) == sorted(second) == list(range(64))
    changed = sum(first[index] != second[index] for index in range(64))
    assert changed > 32  # most images cropped or flipped differently in the second pass
    assert passes(5) == [first, second]
    assert passes(6) != [first, second]


def test_labels_are_a_dict_in_the_element_spec():
    dataset = pipeline.make_dataset(_split(10), 4, training=False)
    image_spec, label_spec = dataset.element_spec
    assert image_spec.dtype == tf.uint8 and image_spec.shape.as_list() == [None, 8, 8, 3]
    assert set(label_spec) == {"index", "parity"}
    assert all(spec.dtype == tf.int32 for spec in label_spec.values())
    training = pipeline.make_dataset(_split(10), 4, training=True)
    assert training.element_spec[0].shape.as_list() == [4, 8, 8, 3]  # static batch: remainder dropped


def _erased_box(seed, probability, size=20):
    """Erases a constant image; returns the bounding box of the changed pixels, or None."""
    image = tf.fill((size, size, 1), tf.constant(7, tf.uint8))
    changed = np.argwhere(pipeline._erase(image, tf.constant([seed, 1]), probability).numpy()[..., 0] != 7)
    if not len(changed):
        return None
    (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
    return top, left, bottom + 1, right + 1, len(changed)


def test_random_erasing_replaces_one_rectangle_of_2_to_40_percent():
    boxes = [_erased_box(seed, 1.0) for seed in range(100)]
    assert all(box is not None for box in boxes)  # probability 1: every image
    areas = []
    for top, left, bottom, right, changed in boxes:
        area = (bottom - top) * (right - left)
        # noise equal to the old value (1 in 256) may leave a pixel of the box unchanged
        assert changed >= 0.9 * area
        assert 0.01 * 400 <= area <= 0.45 * 400
        areas.append(area)
    assert len(set(areas)) > 20  # sizes and places vary
    assert _erased_box(5, 1.0) == _erased_box(5, 1.0)  # seeded


def test_random_erasing_probability():
    assert all(_erased_box(seed, 0.0) is None for seed in range(50))
    erased = sum(_erased_box(seed, 0.5) is not None for seed in range(200))
    assert 70 <= erased <= 130


def test_pipeline_erases_only_when_asked():
    split = _split(64)

    def images(random_erasing):
        dataset = pipeline.make_dataset(split, 64, training=True, seed=1, deterministic=True,
                                        random_erasing=random_erasing)
        return _batches(dataset)[0][0]

    plain, erased = images(0.0), images(1.0)
    assert plain.shape == erased.shape and erased.dtype == np.uint8
    assert not np.array_equal(plain, erased)
