"""Writes the real Fashion-MNIST images as a user's folder of PNG files and a labels CSV.

    python benchmarks/make_fashion_folder.py OUT --count=200000 --size=64 [--processes=2]
    python benchmarks/make_fashion_folder.py OUT --count=70000 --size=28

Every one of the 70,000 images (Debian's `dataset-fashion-mnist`, 60,000 training and
10,000 test) is written in turn, as often as `--count` asks: the first time as it is
(resized to `--size`, grey as RGB), every later time with small changes drawn from a
seeded generator: a shift of up to 3 pixels, a left-right mirror half of the time, a
brightness of 0.85-1.15 and a colour tint (each channel times 0.7-1.0). So `--count=70000
--size=28` is Fashion-MNIST itself, and `--count=200000 --size=64` a folder of 200,000
64×64 PNGs whose decoded pixels take 2.46 GB. `OUT/labels.csv` has the columns image,
article (the 10 classes), footwear (no|yes) and split: every copy of an image keeps its
original split, so no test image has a copy in training. Images go into subfolders of
1,000 (`img/123/123456.png`).
"""

import argparse
import csv
import multiprocessing
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fashion_folder  # noqa: E402  (the class names and the footwear classes)
from mtl_keras.data.datasets import fashion_mnist  # noqa: E402

FOLDER_SIZE = 1000
CHUNK = 5000  # images per task handed to a process


def _originals():
    """(images N×28×28, labels N, split name N): the training images, then the test ones."""
    images, labels, splits = [], [], []
    for split, (images_name, labels_name) in fashion_mnist._FILES.items():
        images.append(fashion_mnist.read_idx(os.path.join(fashion_mnist.DEBIAN_DIR, images_name)))
        labels.append(fashion_mnist.read_idx(os.path.join(fashion_mnist.DEBIAN_DIR, labels_name)))
        splits += [split] * len(labels[-1])
    return np.concatenate(images), np.concatenate(labels), np.array(splits)


def _variant(image, copy, number, size):
    """`image` (28×28 uint8) as RGB size×size; changed unless it is the first copy."""
    picture = Image.fromarray(image).resize((size, size), Image.BILINEAR)
    pixels = np.repeat(np.asarray(picture, np.float32)[..., None], 3, axis=2)
    if copy:
        rng = np.random.default_rng(number)
        rows, columns = rng.integers(-3, 4, 2)
        pixels = np.roll(pixels, (rows, columns), axis=(0, 1))
        if rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        pixels = pixels * rng.uniform(0.85, 1.15) * rng.uniform(0.7, 1.0, 3)
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def _write_chunk(task):
    out, start, stop, size = task
    images, _, _ = _originals()
    for number in range(start, stop):
        path = os.path.join(out, _name(number))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        image = _variant(images[number % len(images)], number // len(images), number, size)
        Image.fromarray(image).save(path, compress_level=1)
    return stop - start


def _name(number):
    return f"img/{number // FOLDER_SIZE:03d}/{number:06d}.png"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--processes", type=int, default=2)
    arguments = parser.parse_args()
    images, labels, splits = _originals()
    os.makedirs(arguments.out, exist_ok=True)
    tasks = [(arguments.out, start, min(start + CHUNK, arguments.count), arguments.size)
             for start in range(0, arguments.count, CHUNK)]
    written = 0
    with multiprocessing.Pool(arguments.processes) as pool:
        for count in pool.imap_unordered(_write_chunk, tasks):
            written += count
            print(f"{written} of {arguments.count} images written", flush=True)
    path = os.path.join(arguments.out, "labels.csv")
    with open(path, "w", newline="", encoding="utf-8") as table:
        writer = csv.writer(table)
        writer.writerow(["image", "article", "footwear", "split"])
        for number in range(arguments.count):
            label = int(labels[number % len(images)])
            writer.writerow([_name(number), fashion_folder.ARTICLES[label],
                             "yes" if label in fashion_folder.FOOTWEAR else "no",
                             splits[number % len(images)]])
    print(path)


if __name__ == "__main__":
    main()
