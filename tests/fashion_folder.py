"""Real Fashion-MNIST images written as a user's folder: PNG files and a labels CSV.

Three heads of different kinds, each from a real property of the image:
- `article` (multiclass): the article's name, one of the 10 Fashion-MNIST classes;
- `footwear` (binary, no|yes): worn on the feet (sandal, sneaker, ankle boot);
- `ink` (regression): the share of the image's pixels that are not background
  (brighter than `INK_THRESHOLD` of 255), in percent.
Some cells of each head are left empty ("label unknown"). With `test_share`, a `split`
column says which images are for testing, so that a test knows the test split itself.

Also a script, to write larger folders by hand:
`python tests/fashion_folder.py OUTPUT_FOLDER COUNT`.
"""

import csv
import os
import sys

import numpy as np
import pytest

from mtl_keras.data.datasets import fashion_mnist

ARTICLES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
            "Bag", "Ankle boot")
FOOTWEAR = (5, 7, 9)  # sandal, sneaker, ankle boot
INK_THRESHOLD = 25  # of 255: darker pixels are the photograph's black background
TASKS = "article:multiclass,footwear:binary:no|yes,ink:regression"


def require_real_images():
    """Skips the calling test when Debian's Fashion-MNIST files are missing (fails on CI)."""
    if not os.path.isdir(fashion_mnist.DEBIAN_DIR):
        if os.environ.get("CI"):
            pytest.fail(f"{fashion_mnist.DEBIAN_DIR} is missing: .ci/run installs "
                        f"dataset-fashion-mnist")
        pytest.skip(f"needs the real Fashion-MNIST images in {fashion_mnist.DEBIAN_DIR}: "
                    f"apt-get install -y dataset-fashion-mnist")


def ink_percent(image):
    """The share of `image`'s pixels brighter than the background, in percent."""
    return 100.0 * float(np.mean(image > INK_THRESHOLD))


def write_folder(folder, count, seed=0, missing=0.12, test_share=None):
    """Writes `count` Fashion-MNIST training images and `folder/labels.csv`.

    Args:
      folder: output folder (created).
      count: number of images, drawn at random (seeded) from the 60,000 training images.
      seed: seed of the draw and of the empty cells.
      missing: share of each head's cells left empty, drawn independently per head.
      test_share: when given, a `split` column marks this share of the images (drawn at
        random, seeded) "test" and the others "train"; without it there is no split column.

    Returns:
      The path of the CSV.
    """
    images = fashion_mnist.read_idx(os.path.join(fashion_mnist.DEBIAN_DIR,
                                                 fashion_mnist._FILES["train"][0]))
    labels = fashion_mnist.read_idx(os.path.join(fashion_mnist.DEBIAN_DIR,
                                                 fashion_mnist._FILES["train"][1]))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(images), count, replace=False)
    empty = {name: rng.random(count) < missing for name in ("article", "footwear", "ink")}
    testing = rng.random(count) < (test_share or 0)
    os.makedirs(os.path.join(folder, "img"), exist_ok=True)
    rows = []
    for row, index in enumerate(chosen):
        image, label = images[index], int(labels[index])
        name = f"img/{index:05d}.png"
        _write_png(os.path.join(folder, name), image)
        cells = {"article": ARTICLES[label], "footwear": "yes" if label in FOOTWEAR else "no",
                 "ink": f"{ink_percent(image):.2f}"}
        rows.append({"image": name, **{head: "" if empty[head][row] else cell
                                       for head, cell in cells.items()}})
        if test_share is not None:
            rows[-1]["split"] = "test" if testing[row] else "train"
    path = os.path.join(folder, "labels.csv")
    with open(path, "w", newline="", encoding="utf-8") as table:
        writer = csv.DictWriter(table, ["image", "article", "footwear", "ink"]
                                + (["split"] if test_share is not None else []))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_png(path, image):
    # Imported here: TensorFlow is slow to import and only the writing needs it.
    import tensorflow as tf

    tf.io.write_file(path, tf.io.encode_png(image[..., None]))


if __name__ == "__main__":
    print(write_folder(sys.argv[1], int(sys.argv[2])))
