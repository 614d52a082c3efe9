"""What a run trains on, in a few digests: a resumed run must train on the same data.

A fingerprint is a dict of parts (the heads, the split sizes, the labels, the images),
each a short string; two fingerprints that differ name the parts that changed. It is
cheap: labels are small arrays; images in memory are hashed as they lie (a pass at
memory speed), images read from files are their list with sizes and modification times,
other streams (record caches, TFDS) their count, shape and measured statistics.
"""

import hashlib
import os

import numpy as np

SPLITS = ("train", "validation", "test")
# Each part, as a phrase for "its ... changed".
PARTS = {"dataset": "dataset", "heads": "heads", "splits": "split sizes",
         "labels": "labels", "images": "images"}


def _digest(*chunks):
    hasher = hashlib.blake2b(digest_size=12)
    for chunk in chunks:
        hasher.update(chunk if isinstance(chunk, (bytes, memoryview)) else str(chunk).encode())
    return hasher.hexdigest()


def _array_chunks(array):
    array = np.ascontiguousarray(array)
    return (f"{array.dtype.str}{array.shape}", memoryview(array).cast("B"))


def _labels(split):
    chunks = []
    for name in sorted(split.labels):
        chunks += [name, *_array_chunks(split.labels[name])]
        if split.masks is not None:
            chunks += ["mask", *_array_chunks(split.masks[name])]
    return chunks


def _images(images):
    if isinstance(images, np.ndarray):
        return list(_array_chunks(images))
    paths = getattr(images, "paths", None)
    if paths is not None:  # image files: their names, sizes and modification times
        chunks = []
        for path in paths:
            status = os.stat(path)
            chunks.append(f"{path}\0{status.st_size}\0{status.st_mtime_ns}\n")
        return chunks
    return [f"{images.shape}", *_array_chunks(np.asarray(images.mean, np.float32)),
            *_array_chunks(np.asarray(images.std, np.float32))]


def of(data):
    """The fingerprint of a `source.DataSource`: {part: digest or description}."""
    splits = [(name, getattr(data, name)) for name in SPLITS if getattr(data, name) is not None]
    heads = [(task.name, task.kind, tuple(task.class_names or ())) for task in data.tasks]
    return {
        "dataset": data.name,
        "heads": _digest(repr(heads)),
        "splits": ", ".join(f"{name} {len(split)}" for name, split in splits),
        "labels": _digest(*[chunk for name, split in splits for chunk in [name, *_labels(split)]]),
        "images": _digest(*[chunk for name, split in splits
                            for chunk in [name, *_images(split.images)]]),
    }


def changes(stored, current):
    """The parts in which two fingerprints differ, as phrases ("the labels", "the split
    sizes (was train 300, test 64; now train 290, test 64)")."""
    phrases = []
    for part, phrase in PARTS.items():
        if part in stored and stored.get(part) != current.get(part):
            if part in ("dataset", "splits"):
                phrases.append(f"the {phrase} (was {stored[part]}; now {current.get(part)})")
            else:
                phrases.append(f"the {phrase}")
    return phrases
