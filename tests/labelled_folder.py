"""A small labelled folder whose every label, mask, split and pixel the tests know.

Three heads of three kinds, each with other images unlabelled: `age` (regression, every
third image unknown), `race` (multiclass, classes named by numbers that sort otherwise as
text, every fourth unknown), `gender` (binary, every fifth unknown). The labels are
painted into the pixels (red: age, green top half: gender, blue bottom half: race), so a
few epochs learn them. Images are PNG, BMP, GIF and JPEG in turn; a `split` column
decides the splits.
"""

import csv
import dataclasses

import numpy as np
from PIL import Image

# Found from the data, these sort as numbers (2 < 11); as text "11" would come first.
RACES = ("2", "3", "5", "7", "11", "13", "17")
FORMATS = ("png", "bmp", "gif", "jpeg")
HEADS = ("age", "race", "gender")
TASKS = "age:regression,race:multiclass,gender:binary"


@dataclasses.dataclass
class Row:
    """One image: its file, split, labels (None: the cell is empty) and pixels as written
    (None for JPEG, which is lossy)."""

    image: str
    split: str
    age: float
    race: int
    gender: int
    pixels: np.ndarray


def paint(age, race, gender, rng, size):
    """An RGB uint8 image carrying the three labels, with noise."""
    image = np.zeros((size, size, 3), np.int64)
    image[:, :, 0] = int(age * 3)
    image[:size // 2, :, 1] = 40 + 170 * gender
    image[size // 2:, :, 2] = 20 + 35 * race
    return np.clip(image + rng.integers(-8, 9, image.shape), 0, 255).astype(np.uint8)


def _save(pixels, path, image_format):
    if image_format == "gif":
        # A palette image of the picture's own colours: GIF keeps them exactly.
        colours, indices = np.unique(pixels.reshape(-1, 3), axis=0, return_inverse=True)
        picture = Image.fromarray(indices.reshape(pixels.shape[:2]).astype(np.uint8), "P")
        picture.putpalette(colours.astype(np.uint8).ravel().tolist())
        picture.save(path, format="GIF")
    else:
        Image.fromarray(pixels, "RGB").save(path, format=image_format.upper(), quality=95)


def write(folder, counts, size=8, seed=0, split_column=True):
    """Writes img/* and labels.csv into `folder`; returns the Rows in CSV order.

    Args:
      counts: {"train": N, "validation": N, "test": N}, the rows of each split, in turn.
      split_column: write the split column (else the loader splits by itself).
    """
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    splits = [name for name, count in counts.items() for _ in range(count)]
    rows = []
    for index, split in enumerate(splits):
        age, race, gender = float(rng.integers(20, 80)), int(rng.integers(0, 7)), int(rng.integers(0, 2))
        pixels = paint(age, race, gender, rng, size)
        image_format = FORMATS[index % len(FORMATS)]
        name = f"img/{index:03d}.{image_format}"
        _save(pixels, folder / name, image_format)
        rows.append(Row(name, split, None if index % 3 == 0 else age,
                        None if index % 4 == 1 else race, None if index % 5 == 2 else gender,
                        None if image_format == "jpeg" else pixels))
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as table:
        writer = csv.writer(table)
        writer.writerow(["image", *HEADS, *(["split"] if split_column else [])])
        for row in rows:
            cells = ["" if row.age is None else f"{row.age:g}",
                     "" if row.race is None else RACES[row.race],
                     "" if row.gender is None else str(row.gender)]
            writer.writerow([row.image, *cells, *([row.split] if split_column else [])])
    return rows


def labels(rows, head):
    """(labels, known) of `head` over `rows`, as float arrays; unknown labels are 0."""
    values = [getattr(row, head) for row in rows]
    known = np.array([value is not None for value in values])
    return np.array([0 if value is None else value for value in values], np.float64), known
