"""Multi-Fashion: two real Fashion-MNIST articles in one 28×28 image, heads `left` and `right`.

The construction of Sener & Koltun's MultiMNIST ("Multi-Task Learning as Multi-Objective
Optimization", NeurIPS 2018; `multi_task/loaders/multi_mnist_loader.py` of their code)
applied to Fashion-MNIST, as in Lin et al.'s Multi-Fashion ("Pareto Multi-Task Learning",
NeurIPS 2019). For each image of a split (the `left` article), another image of the same
split is drawn (the `right` article); on a 36×36 black canvas the left image fills the
top-left 28×28 corner and the right one the 28×28 square shifted by 6 pixels down and
right (each 4 or 2 pixels off the canvas centre), overlaid by the brighter pixel; the
canvas is shrunk back to 28×28 by nearest-neighbour sampling. Heads: the classes of
the two articles (10 each, Fashion-MNIST's names).

Differences from the reference code, on purpose: the pairing is seeded (the same images
in every run, whatever --seed) and never pairs an image with itself; the canvas is not
rescaled to the full 0-255 range after the overlay (scipy's old `imresize` did that).
Lin et al.'s published files hold 36×36 canvases without the shrink and two composites
per source image; this module keeps Sener's 28×28 and one composite per image.

The validation split is carved from the training *source* images before pairing, so
that no source image appears in two splits; test composites are made of test images
only.
"""

import numpy as np

from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.data.datasets import fashion_mnist
from mtl_keras.data.labels import hierarchy as hierarchy_lib

HEADS = ("left", "right")
CANVAS_SIZE = 36
RIGHT_OFFSET = 6  # rows and columns between the two articles' top-left corners
_PAIRING_SEEDS = {"train": 0, "validation": 1, "test": 2}  # fixed: the data is one dataset


def shrink_indices(canvas_size, size):
    """The canvas rows (or columns) that nearest-neighbour shrinking samples: output pixel
    i takes the canvas pixel under its centre, floor((i + 0.5) · canvas_size / size), as
    PIL's (and so scipy's `imresize`'s) nearest filter does."""
    return ((2 * np.arange(size) + 1) * canvas_size) // (2 * size)


def compose(left_images, right_images):
    """Returns the composites of `left_images` and `right_images` (uint8, N×28×28×1 each)."""
    count, height, width, channels = left_images.shape
    canvas = np.zeros((count, CANVAS_SIZE, CANVAS_SIZE, channels), np.uint8)
    canvas[:, :height, :width] = left_images
    corner = canvas[:, RIGHT_OFFSET:RIGHT_OFFSET + height, RIGHT_OFFSET:RIGHT_OFFSET + width]
    np.maximum(corner, right_images, out=corner)
    rows = shrink_indices(CANVAS_SIZE, height)
    columns = shrink_indices(CANVAS_SIZE, width)
    return canvas[:, rows][:, :, columns]


def partners(count, seed):
    """For each of `count` images, the index of another one, drawn uniformly (seeded).

    A single image is its own partner: there is no other.
    """
    if count == 1:
        return np.zeros(1, np.int64)
    draws = np.random.default_rng(seed).integers(0, count - 1, size=count)
    return draws + (draws >= np.arange(count))  # skips the image itself


def pair_split(split, seed, heads=HEADS):
    """Returns the Multi-Fashion `Split` made of a Fashion-MNIST `split` (its "fine" labels):
    composite i holds image i on the left and its seeded partner on the right.

    Args:
      split: a Fashion-MNIST `Split`.
      seed: seed of the pairing.
      heads: the heads whose labels to keep.
    """
    right = partners(len(split), seed)
    fine = split.labels["fine"]
    labels = {"left": fine, "right": fine[right]}
    return source.Split(compose(split.images, split.images[right]),
                        {head: labels[head] for head in heads})


def _heads(config):
    heads = tuple(head.strip() for head in config.heads.split(",") if head.strip()) or HEADS
    unknown = [head for head in heads if head not in HEADS]
    if unknown or len(set(heads)) != len(heads):
        raise errors.UserError(f"--heads={config.heads}: multi_fashion's heads are left and "
                               f"right, each named at most once.")
    return heads


@source.DATASETS.register("multi_fashion",
                         description="two Fashion-MNIST articles per image, heads left and right")
def load_multi_fashion(config):
    """Returns Multi-Fashion as a `DataSource`; --heads picks among left and right."""
    heads = _heads(config)
    fashion = fashion_mnist.read_splits(config)
    train, validation = source.carve_validation(fashion["train"], config.validation_size)
    splits = {"train": train, "validation": validation, "test": fashion["test"]}
    paired = {name: None if split is None else pair_split(split, _PAIRING_SEEDS[name], heads)
              for name, split in splits.items()}
    class_names = hierarchy_lib.load("fashion_mnist", ("fine",)).class_names["fine"]
    tasks = tuple(tasks_lib.Task(head, len(class_names), class_names, metrics=("accuracy",))
                  for head in heads)
    # A left-right mirror would put the `left` article on the right: no flips.
    return source.DataSource(name="multi_fashion", tasks=tasks, train=paired["train"],
                             validation=paired["validation"], test=paired["test"],
                             synthetic=config.synthetic, mirror_keeps_labels=False)
