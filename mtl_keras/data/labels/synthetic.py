"""Made-up images shaped like a real dataset, for smoke runs and tests.

Each finest class gets a fixed template of coarse random colour blocks (8×8 pixels, so
that a 4-pixel crop shift keeps most of it); an image is its class template plus noise,
so a network can learn the labels and a smoke run shows accuracy rising.
Coarser labels are derived through the hierarchy, so they are always consistent.
"""

import numpy as np

from mtl_keras.data import source


def make_split(hierarchy, num_examples, image_shape, seed):
    """Returns a synthetic `Split` of `num_examples` images of `image_shape` (uint8).

    Args:
      hierarchy: the label hierarchy; the finest level's classes get templates.
      num_examples: number of images.
      image_shape: H×W×C of one image.
      seed: seed of the templates and the draws; splits made with different seeds share
        the templates, which depend only on the hierarchy and the shape.
    """
    finest = hierarchy.levels[0]
    num_classes = hierarchy.num_classes(finest)
    height, width, channels = image_shape
    blocks = np.random.default_rng(12345).integers(
        40, 216, size=(num_classes, -(-height // 8), -(-width // 8), channels), dtype=np.int16)
    templates = blocks.repeat(8, axis=1).repeat(8, axis=2)[:, :height, :width]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=num_examples)
    noise = rng.integers(-40, 41, size=(num_examples,) + tuple(image_shape), dtype=np.int16)
    images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
    return source.Split(images, hierarchy.derive(labels))
