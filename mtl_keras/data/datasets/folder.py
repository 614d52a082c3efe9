"""The user's own labelled images: a CSV of image paths and one column per head.

`--dataset=folder --csv=labels.csv --tasks=age:regression,gender:binary,race:multiclass:7`
reads `labels.csv`, whose `--image_column` (default "image") holds paths relative to the
CSV's folder (or to `--image_dir`), and whose other columns named in `--tasks` hold the
labels. A `--split_column` (default "split") with train / validation / test decides the
splits; without it, a fixed `--test_fraction` of the images (chosen by a hash of the
path, so the test set never moves) is the test split and `--validation_size` images of
the rest (by default a tenth, at most 5,000) are held out for validation. Images are
decoded and resized in tf.data to `--image_size` squared, RGB. When they take at most 1 GiB
decoded (`size_rule.in_memory`, or --in_memory=true) that happens once, into memory;
otherwise tf.data reads them while training (`streams`): from their files, or with
--cache_dir from record shards written there once (`record_cache`). Either way a missing
or unreadable image stops the run with its CSV line before training starts.
"""

import csv
import dataclasses
import os
import zlib

import numpy as np

from mtl_keras import errors
from mtl_keras import size_rule
from mtl_keras.data import source
from mtl_keras.data.images import decoding
from mtl_keras.data.images import record_cache
from mtl_keras.data.images import streams
from mtl_keras.data.labels import cells as labels_lib
from mtl_keras.data.labels import task_spec

_SPLITS = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}


@dataclasses.dataclass(frozen=True)
class Row:
    """One example: where it is declared, its image file, its label cells, its split."""

    where: str
    path: str
    cells: dict
    split: str = ""


@source.DATASETS.register("folder",
                         description="your images and a CSV of labels, heads declared by --tasks")
def load_folder(config):
    """Returns the images and labels a CSV describes, as a `DataSource`."""
    if not config.csv:
        raise errors.UserError("--dataset=folder needs --csv=PATH of the labels table.")
    if bool(config.tasks) == bool(config.tasks_file):
        raise errors.UserError("--dataset=folder needs the heads: give --tasks or --tasks_file "
                               "(one of them).")
    specs = (task_spec.parse_tasks_flag(config.tasks) if config.tasks
             else task_spec.read_tasks_file(config.tasks_file))
    rows = read_table(config.csv, config.image_column, config.split_column,
                      [spec.source_name for spec in specs], config.image_dir)
    return build_source("folder", rows, specs, config)


def read_table(path, image_column, split_column, task_names, image_dir=""):
    """Reads the CSV into Rows; image paths are resolved against `image_dir` or the CSV's folder."""
    base = image_dir or os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as table:
            reader = csv.DictReader(table)
            header = reader.fieldnames or []
            for column in [image_column, *task_names]:
                if column not in header:
                    raise errors.UserError(
                        f"{path}: column {column!r} is not in the header ({', '.join(header)}); "
                        f"check --image_column and --tasks.")
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated:
                raise errors.UserError(f"{path}: the header names {', '.join(duplicated)} twice.")
            rows, first_line = [], {}
            for record in reader:
                where = f"{path}:{reader.line_num}"
                _check_cells(record, where, len(header))
                row = _row(record, where, base, image_column, split_column, task_names)
                if row.path in first_line:
                    raise errors.UserError(f"{where}: image {record[image_column].strip()} is "
                                           f"listed again (first on line {first_line[row.path]}); "
                                           f"list each image once.")
                first_line[row.path] = reader.line_num
                rows.append(row)
    except FileNotFoundError:
        raise errors.UserError(f"--csv={path} does not exist.") from None
    except UnicodeDecodeError:
        raise errors.UserError(f"{path} is not a UTF-8 text CSV.") from None
    if not rows:
        raise errors.UserError(f"{path} has a header but no rows.")
    return rows


def _check_cells(record, where, count):
    """Raises UserError for a row with more or fewer cells than the header's `count`."""
    extra = record.get(None)  # csv.DictReader's place for cells beyond the header
    missing = sum(value is None for key, value in record.items() if key is not None)
    if extra or missing:
        cells = count + len(extra or ()) - missing
        raise errors.UserError(f"{where}: {cells} cells where the header has {count}; give "
                               f"every row one cell per column (empty for an unknown label).")


def _row(record, where, base, image_column, split_column, task_names):
    image = (record.get(image_column) or "").strip()
    if not image:
        raise errors.UserError(f"{where}: the {image_column!r} cell is empty.")
    split = (record.get(split_column) or "").strip().lower()
    if split and split not in _SPLITS:
        raise errors.UserError(f"{where}: split {split!r} is not train, validation or test.")
    cells = {name: (record.get(name) or "").strip() for name in task_names}
    return Row(where, os.path.join(base, image), cells, _SPLITS.get(split, ""))


def build_source(name, rows, specs, config):
    """Encodes labels, splits, then decodes the images into memory or streams them."""
    wheres = [row.where for row in rows]
    encoded = {spec.name: labels_lib.encode(spec, [row.cells[spec.source_name] for row in rows],
                                            wheres) for spec in specs}
    train, validation, test = _split_indices(rows, config)
    tasks = tuple(labels_lib.make_task(spec, encoded[spec.name][2], encoded[spec.name][0][train],
                                       encoded[spec.name][1][train]) for spec in specs)
    labels = {spec.name: encoded[spec.name][0] for spec in specs}
    masks = {spec.name: encoded[spec.name][1] for spec in specs}
    masks = masks if any(m.min() == 0 for m in masks.values()) else None
    positions = {"train": train, "validation": validation, "test": test}
    image_bytes = 3 * config.image_size ** 2
    if size_rule.in_memory(config.in_memory, len(rows), image_bytes):
        decoded = decode_images(rows, config.image_size)
        images = {split: decoded[index] for split, index in positions.items()}
    else:
        print(f"[mtl_keras] streaming {len(rows)} images ({len(rows) * image_bytes / 2**30:.2f} "
              f"GiB decoded) from disk in tf.data (--in_memory)", flush=True)
        # The training split in a fixed random order: a record cache's shards then hold
        # unrelated neighbours, which a bounded shuffle buffer mixes well.
        positions["train"] = np.random.default_rng(0).permutation(train)
        images = _streams({split: [rows[i] for i in index] for split, index in positions.items()
                           if len(index)}, config)
    splits = {split: source.Split(images[split], _part(labels, index), _part(masks, index))
              for split, index in positions.items() if len(index)}
    return source.DataSource(name=name, tasks=tasks, train=splits["train"],
                             validation=splits.get("validation"), test=splits["test"])


def _part(arrays, index):
    return None if arrays is None else {name: values[index] for name, values in arrays.items()}


def _streams(splits, config):
    """{split: ImageStream} of {split: rows}: from a record cache with --cache_dir, else
    from the files themselves."""
    if config.cache_dir:
        return record_cache.open_cache(config.cache_dir, splits, config.image_size)
    return streams.open_files(splits, config.image_size)


def _split_indices(rows, config):
    declared = np.array([row.split for row in rows])
    if declared.any():
        if not declared.all():
            where = rows[int(np.flatnonzero(declared == "")[0])].where
            raise errors.UserError(f"{where}: the split cell is empty while other rows have one.")
        test = np.flatnonzero(declared == "test")
        train = np.flatnonzero(declared == "train")
        validation = np.flatnonzero(declared == "validation")
    else:
        # A hash of the path, not a random draw: the test set stays the same across runs,
        # seeds and row orders.
        draws = np.array([zlib.crc32(os.path.basename(row.path).encode()) / 2**32 for row in rows])
        test = np.flatnonzero(draws < config.test_fraction)
        train, validation = np.flatnonzero(draws >= config.test_fraction), np.array([], np.int64)
    if not len(train) or not len(test):
        raise errors.UserError(f"The table gives {len(train)} training and {len(test)} test images; "
                               f"both need at least one (see the split column or --test_fraction).")
    validation_size = size_rule.validation_size(config.validation_size, len(train))
    if not len(validation) and validation_size:
        source.check_validation_size(validation_size, len(train))
        shuffled = np.random.default_rng(0).permutation(train)
        train, validation = shuffled[validation_size:], shuffled[:validation_size]
    return np.sort(train), np.sort(validation), np.sort(test)


def decode_images(rows, image_size):
    """Decodes and resizes every image in tf.data; a missing or unreadable one is an error."""
    decoding.check_files(rows)
    print(f"[mtl_keras] decoding {len(rows)} images to {image_size}x{image_size}", flush=True)
    images = np.zeros((len(rows), image_size, image_size, 3), np.uint8)
    for positions, batch in decoding.decoded_batches(rows, image_size):
        images[positions] = batch
    return images
