"""Image files and arrays → the uint8 images a model takes, the same way for training and
prediction.

A folder dataset's images are decoded and resized here when the data loads, and the
images given to a saved model (`mtl_keras.load`, `python -m mtl_keras.predict`) go
through the same functions, so that a model sees at prediction what it saw in training.
"""

import tensorflow as tf

# The formats tf.io.decode_image reads (an animated GIF gives its first frame).
FORMATS = "JPEG, PNG, GIF or BMP"
SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def decode(path, height, width, channels=3):
    """Reads and decodes one image file, then `fit`s it to height×width×channels.

    Args:
      path: a string tensor (or str): the file's path.
      height, width, channels: the shape the model takes (channels 1 or 3).

    Returns:
      A uint8 tensor height×width×channels.

    Raises:
      tf.errors.OpError: the file is missing or not a JPEG, PNG, GIF or BMP image.
    """
    # Always decoded to RGB first: the decoders differ in which channel counts they can
    # convert to (BMP cannot give one channel), and `fit` makes grey from RGB itself.
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return fit(image, height, width, channels)


def fit(images, height, width, channels):
    """Resizes uint8 images of any size to height×width and converts grey↔RGB.

    The whole image is resized (squeezed, not cropped) with antialiasing, in float, then
    rounded back to uint8. Grey becomes RGB by repeating the channel; RGB becomes grey by
    the luma weights of `tf.image.rgb_to_grayscale`; an alpha channel is dropped.

    Args:
      images: uint8 tensor H×W×C or N×H×W×C, C being 1, 3 or 4.
      height, width, channels: the shape wanted (channels 1 or 3).

    Returns:
      uint8 tensor height×width×channels (N×height×width×channels for a batch).
    """
    images = tf.cast(images[..., :3], tf.float32)
    if channels == 1 and images.shape[-1] == 3:
        images = tf.image.rgb_to_grayscale(images)
    elif channels == 3 and images.shape[-1] == 1:
        images = tf.image.grayscale_to_rgb(images)
    images = tf.image.resize(images, (height, width), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
