"""One pass over a folder's image files: decoded and resized in parallel in tf.data, each
checked, in order.

Every way a folder's images are used goes through this pass before training: decoded
into memory, measured for a stream that decodes them again every epoch, or written into
a record cache. So a missing or unreadable image stops the run with its CSV line (or file
name) before the first step, whatever the path.
"""

import os

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras.data.images import convert as images_lib

BATCH = 256


def check_files(rows):
    """Raises UserError naming the first row whose image file does not exist."""
    for row in rows:
        if not os.path.isfile(row.path):
            raise errors.UserError(f"{row.where}: image {row.path} does not exist.")


def decoded_batches(rows, image_size):
    """Yields (row positions, uint8 images batch×size×size×3), in the order of `rows`.

    Args:
      rows: `folder.Row`s (their `path` and `where`).
      image_size: the side of the square the images are resized to.

    Raises:
      UserError: after the pass, naming the first image that could not be read and the
        number of unreadable ones (the batches yielded before hold the readable ones).
    """
    def load(position, path):
        return position, images_lib.decode(path, image_size, image_size)

    paths = [row.path for row in rows]
    dataset = (tf.data.Dataset.from_tensor_slices((np.arange(len(rows)), paths))
               .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .ignore_errors().batch(BATCH).prefetch(2))
    decoded = np.zeros(len(rows), bool)
    for positions, images in dataset.as_numpy_iterator():
        decoded[positions] = True
        yield positions, images
    if not decoded.all():
        row = rows[int(np.flatnonzero(~decoded)[0])]
        raise errors.UserError(f"{row.where}: image {row.path} cannot be read as "
                               f"{images_lib.FORMATS} ({int((~decoded).sum())} unreadable in all).")
