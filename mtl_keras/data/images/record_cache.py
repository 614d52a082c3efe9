"""A folder's images decoded once into TFRecord shards in --cache_dir, and read from there.

The folder --cache_dir names holds:
- `<split>-00000-of-00035.tfrecord`, ...: one set of shards per split (train, validation,
  test); each record a `tf.train.Example` of "image" (the decoded, resized pixels, raw
  uint8 bytes H×W×3) and "position" (its place in the split, which finds its labels);
- `manifest.json`, written last (a folder holding it holds a whole cache): the shards and
  their sizes, the training images' channel statistics, and a fingerprint of the image
  size and of every split's files (path, size, modification time, in order).

A run whose fingerprint equals the manifest's reads the shards and decodes nothing; any
change to the images, their splits or --image_size, or a shard lost or not of the size
written (deleted, truncated), writes the cache again. Writing is the
pass that checks every image (`decoding`): a bad image stops the run, named, before
training. Labels are not in the shards, so other --tasks on the same images reuse them.
The training split is written in a fixed random order, so that a buffer of a few thousand
images shuffles well. Every shard is written under a temporary name and renamed, so that
several workers starting at once on shared storage all end with the same files.
"""

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import time

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras.data import source
from mtl_keras.data.images import decoding
from mtl_keras.data.images import streams

MANIFEST = "manifest.json"
FORMAT = 1
SHARD_BYTES = 64 << 20  # of decoded images per shard
MIN_SHARDS = 16  # per split (fewer when it has fewer images): enough for 16 workers
READ_CYCLE = 8  # training shards read at once
_OURS = re.compile(r"\w+-\d{5}-of-\d{5}\.tfrecord|manifest\.json|(\..*\.partial-\d+\..*)")
STALE_SECONDS = 3600  # a temporary shard untouched this long was left by a killed writer
_FEATURES = {"image": tf.io.FixedLenFeature([], tf.string),
             "position": tf.io.FixedLenFeature([], tf.int64)}



@dataclasses.dataclass(frozen=True, eq=False)
class RecordStream(streams.ImageStream):
    """A split's images read from its record shards.

    Attributes:
      files: the shard paths, in the split's order.
      count: the number of images.
      image_size: their side in pixels.
      mean, std: the training split's per-channel statistics (from the manifest).
    """

    storage = "cached"  # decoded once, into record shards on disk

    files: tuple
    count: int
    image_size: int
    mean: np.ndarray
    std: np.ndarray

    # Each worker reads its own shards: the files are split, not every batch.
    training_shard_policy = tf.data.experimental.AutoShardPolicy.FILE

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, 3)

    def _records(self, training, seed):
        if not training:  # the split's order: the shards one after the other
            return tf.data.TFRecordDataset(list(self.files))
        files = tf.data.Dataset.from_tensor_slices(list(self.files))
        files = files.shuffle(len(self.files), seed=seed, reshuffle_each_iteration=True)
        records = files.interleave(tf.data.TFRecordDataset,
                                   cycle_length=min(READ_CYCLE, len(self.files)),
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        buffer = streams.shuffle_buffer(self.count, int(np.prod(self.image_shape)))
        return records.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)

    def _parse(self, record):
        example = tf.io.parse_single_example(record, _FEATURES)
        return (example["position"],
                tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), self.image_shape))

    def elements(self, split, training, seed):
        parsed = self._records(training, seed).map(
            self._parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return streams.attach_labels(parsed, split)

    def first(self, count):
        records = self._records(False, 0).take(count).map(self._parse)
        return np.stack([image for _, image in records.as_numpy_iterator()])


def open_cache(cache_dir, splits, image_size):
    """Returns {split name: RecordStream}, writing the shards first unless they are current.

    Args:
      cache_dir: the --cache_dir folder (made if missing).
      splits: {split name: the split's `folder.Row`s, in order}; "train" among them.
      image_size: the side of the square the images are resized to.

    Raises:
      UserError: an image is missing or unreadable (named), the folder holds other files,
        or it cannot be written.
    """
    fingerprint = _fingerprint(splits, image_size)
    manifest = _read_manifest(cache_dir)
    damaged = _damaged_shard(cache_dir, manifest)
    if damaged and manifest.get("fingerprint") == fingerprint:
        print(f"[mtl_keras] the record cache in {cache_dir} lost or holds a damaged {damaged}; "
              f"writing it again", flush=True)
    if manifest is not None and manifest.get("fingerprint") == fingerprint and not damaged:
        print(f"[mtl_keras] reading {sum(len(rows) for rows in splits.values())} images from "
              f"the record cache in {cache_dir}", flush=True)
    else:
        manifest = _write_anew(cache_dir, splits, image_size, fingerprint, manifest)
    mean, std = (np.array(manifest[key], np.float32) for key in ("mean", "std"))
    return {name: RecordStream(tuple(os.path.join(cache_dir, file) for file in entry["files"]),
                               entry["count"], image_size, mean, std)
            for name, entry in manifest["splits"].items()}


def _write_anew(cache_dir, splits, image_size, fingerprint, manifest):
    """Writes the cache in place of `manifest`'s; returns the new manifest.

    Raises:
      UserError: the folder cannot be written (a full disk, a read-only file system...);
        a shard that cannot be written raises fileio's, naming it.
    """
    try:
        _check_folder(cache_dir, manifest)
        return _write(cache_dir, splits, image_size, fingerprint, manifest)
    except (OSError, tf.errors.PermissionDeniedError, tf.errors.ResourceExhaustedError) as error:
        if isinstance(error, OSError) and error.errno not in fileio.DISK_ERRORS:
            raise
        reason = os.strerror(error.errno) if isinstance(error, OSError) else type(error).__name__
        raise errors.UserError(
            f"--cache_dir={cache_dir} cannot be written ({reason}); give a folder you can "
            f"write, or leave --cache_dir out to read the images from their files.") from None


def _damaged_shard(cache_dir, manifest):
    """The first shard of the cache that is missing or not of the size written (a file
    deleted, truncated or replaced), or None when all are whole or there is no cache."""
    if manifest is None:
        return None
    try:
        for entry in manifest["splits"].values():
            for file, size in zip(entry["files"], entry.get("sizes") or [None] * len(entry["files"])):
                path = os.path.join(cache_dir, file)
                if not os.path.isfile(path) or (size is not None and os.path.getsize(path) != size):
                    return file
    except (KeyError, TypeError, AttributeError):
        return MANIFEST
    return None


def shard_count(count, image_bytes):
    """The number of shards of a split of `count` images of `image_bytes` each."""
    return max(1, min(count, max(MIN_SHARDS, math.ceil(count * image_bytes / SHARD_BYTES))))


def _fingerprint(splits, image_size):
    digest = hashlib.sha256(f"{FORMAT} {image_size}".encode())
    for name, rows in splits.items():
        digest.update(f"\n{name}:".encode())
        for row in rows:
            try:
                stat = os.stat(row.path)
            except OSError:
                raise errors.UserError(f"{row.where}: image {row.path} does not exist.") from None
            digest.update(f"{row.path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_manifest(cache_dir):
    try:
        with open(os.path.join(cache_dir, MANIFEST), encoding="utf-8") as manifest:
            return json.load(manifest)
    except (OSError, ValueError):
        return None


def _check_folder(cache_dir, manifest):
    """Refuses a folder holding files a cache does not write; removes what killed writers
    left, and the previous cache's manifest (its shards are replaced)."""
    if os.path.exists(cache_dir) and not os.path.isdir(cache_dir):
        raise errors.UserError(f"--cache_dir={cache_dir} is a file; give a folder.")
    os.makedirs(cache_dir, exist_ok=True)
    for name in os.listdir(cache_dir):
        match = _OURS.fullmatch(name)
        if not match:
            raise errors.UserError(f"--cache_dir={cache_dir} holds {name}, which a record cache "
                                   f"does not write; give an empty folder or a cache's.")
        path = os.path.join(cache_dir, name)
        # By age, not by process id: the writer may be another machine's worker.
        if match.group(1) and time.time() - os.path.getmtime(path) > STALE_SECONDS:
            os.remove(path)
    if manifest is not None:
        os.remove(os.path.join(cache_dir, MANIFEST))


def _write(cache_dir, splits, image_size, fingerprint, previous):
    """Decodes every split into its shards, then writes the manifest; returns it."""
    total = sum(len(rows) for rows in splits.values())
    print(f"[mtl_keras] writing {total} images as record shards into {cache_dir} (once: "
          f"later runs on the same images read them)", flush=True)
    moments = source.ChannelMoments(3)
    entries = {}
    for name, rows in splits.items():
        shards = shard_count(len(rows), image_size * image_size * 3)
        files = [f"{name}-{index:05d}-of-{shards:05d}.tfrecord" for index in range(shards)]
        _write_split(cache_dir, rows, image_size, files, moments if name == "train" else None)
        entries[name] = {"files": files, "count": len(rows),
                         "sizes": [os.path.getsize(os.path.join(cache_dir, file)) for file in files]}
    mean, std = moments.statistics()
    manifest = {"format": FORMAT, "fingerprint": fingerprint, "image_size": image_size,
                "splits": entries, "mean": mean.tolist(), "std": std.tolist()}
    fileio.write_json(os.path.join(cache_dir, MANIFEST), manifest)
    kept = {file for entry in entries.values() for file in entry["files"]}
    for entry in (previous or {}).get("splits", {}).values():
        for file in set(entry.get("files", ())) - kept:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(cache_dir, file))
    return manifest


def _write_split(cache_dir, rows, image_size, files, moments):
    """Writes `rows`' images into `files` (consecutive runs of positions), measuring them
    into `moments` unless it is None."""
    with contextlib.ExitStack() as open_shard:
        writer, current = None, -1
        for positions, images in decoding.decoded_batches(rows, image_size):
            if moments is not None:
                moments.add(images)
            for position, image in zip(positions, images):
                shard = int(position) * len(files) // len(rows)
                if shard != current:
                    open_shard.close()
                    temporary = open_shard.enter_context(
                        fileio.atomic_path(os.path.join(cache_dir, files[shard])))
                    writer = open_shard.enter_context(tf.io.TFRecordWriter(temporary))
                    current = shard
                writer.write(_example(int(position), image))


def _example(position, image):
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
        "position": tf.train.Feature(int64_list=tf.train.Int64List(value=[position])),
    })).SerializeToString()
