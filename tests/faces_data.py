"""Small labelled image folders made in the tests: labels are painted into the pixels."""

import csv

import numpy as np
import tensorflow as tf

RACES = ("White", "Black", "Asian", "Indian", "Others")
TAGS = ("hat", "glasses", "beard")


def face(age, gender, race, tags, rng, size=16):
    """A uint8 image: red = age, top-half green = gender, bottom-half blue = race,
    one corner pixel block per tag."""
    image = np.zeros((size, size, 3), np.int64)
    image[:, :, 0] = int(age * 2.5)
    image[:size // 2, :, 1] = 200 * gender
    image[size // 2:, :, 2] = 50 * race
    for index, tag in enumerate(TAGS):
        if tag in tags:
            image[:4, index * 5:index * 5 + 4, :] = 255
    return np.clip(image + rng.integers(-8, 9, image.shape), 0, 255).astype(np.uint8)


def write_csv_folder(folder, count=240, missing_age_every=0, seed=0):
    """Writes img/*.png and labels.csv (image, age, gender, race, tags); returns the rows."""
    rng = np.random.default_rng(seed)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        age, gender, race = int(rng.integers(20, 80)), int(rng.integers(0, 2)), int(rng.integers(0, 5))
        tags = [tag for tag in TAGS if rng.random() < 0.5]
        name = f"img/face{index}.png"
        (folder / name).write_bytes(tf.io.encode_png(face(age, gender, race, tags, rng)).numpy())
        missing = missing_age_every and index % missing_age_every == 0
        rows.append({"image": name, "age": "" if missing else age, "gender": gender,
                     "race": RACES[race], "tags": ";".join(tags)})
    write_rows(folder / "labels.csv", rows)
    return rows


FIELDS = ("image", "age", "gender", "race", "tags")


def write_rows(path, rows, fields=FIELDS):
    with open(path, "w", newline="", encoding="utf-8") as table:
        writer = csv.DictWriter(table, list(fields))
        writer.writeheader()
        writer.writerows(rows)


def write_utkface_folder(folder, count=60, seed=0):
    """Writes <age>_<gender>_<race>_<date>.jpg files; every tenth has no race field."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for index in range(count):
        age, gender, race = int(rng.integers(1, 90)), int(rng.integers(0, 2)), int(rng.integers(0, 5))
        name = (f"{age}_{gender}_2017{index:010d}.jpg" if index % 10 == 0
                else f"{age}_{gender}_{race}_2017{index:010d}.jpg.chip.jpg")
        image = face(age, gender, race, (), rng)
        (folder / name).write_bytes(tf.io.encode_jpeg(image, quality=95).numpy())
        names.append((name, age, gender, None if index % 10 == 0 else race))
    return names
