"""Omniglot (Lake et al. 2015) as one task per alphabet: task "Greek" tells Greek characters apart.

The images are the real background subsets `images_background_small1.zip` and
`images_background_small2.zip` (8 alphabets, 105×105 grey, MIT licence), resized to
--image_size. `--archive=PATH,PATH` reads zips on disk; without it, the two zips are
fetched by TensorFlow Datasets' download manager from the addresses TFDS' own omniglot
builder uses (TFDS' prepared records drop the file names, and with them the drawer that
the split needs). Both subsets hold Greek and Latin, byte for byte: each image is read once.

Every character was drawn once by each of 20 people, and a file's name ends with the
drawer's number (0394_13.png: drawer 13). The split is by drawer, so that no one's hand
is in two splits: drawers 17-20 are the test split, 15-16 the validation split (with
--validation_size=-1; 0 trains on them too), 1-14 (or 1-16) the training split.
"""

import os
import re
import zipfile

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.data.datasets import tfds_source
from mtl_keras.data.images import convert as images_lib
from mtl_keras.data.labels import families

URLS = tuple(f"https://github.com/brendenlake/omniglot/raw/master/python/images_background_small{n}.zip"
             for n in (1, 2))
TEST_DRAWERS = range(17, 21)
VALIDATION_DRAWERS = range(15, 17)
_FILE = re.compile(r"(?:.*/)?([^/]+)/([^/]+)/\d+_(\d+)\.png")


def read_zips(paths):
    """Returns {(alphabet, character, drawer): PNG bytes} of every image in the zips at `paths`.

    Raises:
      UserError: a zip is missing, unreadable, or holds no Omniglot image.
    """
    entries = {}
    for path in paths:
        try:
            with zipfile.ZipFile(path) as archive:
                found = [(_FILE.fullmatch(name), name) for name in archive.namelist()]
                found = [(match.groups(), name) for match, name in found if match]
                if not found:
                    raise errors.UserError(f"--archive={path} holds no Omniglot image "
                                           f"(ALPHABET/characterNN/NNNN_DD.png).")
                for (alphabet, character, drawer), name in found:
                    key = (alphabet, character, int(drawer))
                    if key not in entries:  # the subsets share alphabets, image for image
                        entries[key] = archive.read(name)
        except FileNotFoundError:
            raise errors.UserError(f"--archive={path} does not exist; check the path.") from None
        except (zipfile.BadZipFile, OSError) as error:
            raise errors.UserError(f"--archive={path} is not a readable zip file ({error}).") from None
    return entries


def decode(entries, size):
    """Decodes PNG bytes into uint8 images size×size×1, in the order given."""
    decoded = []
    payloads = list(entries)
    for start in range(0, len(payloads), 512):  # resized in chunks: float copies stay small
        chunk = tf.stack([tf.io.decode_png(payload, channels=1)
                          for payload in payloads[start:start + 512]])
        decoded.append(images_lib.fit(chunk, size, size, 1).numpy())
    return np.concatenate(decoded)


def alphabet_tasks(keys):
    """The tasks (one per alphabet, sorted), their members and every character's class id.

    Returns:
      (tasks, members {task: class ids}, {(alphabet, character): class id}).
    """
    characters = sorted({(alphabet, character) for alphabet, character, _ in keys})
    class_ids = {pair: index for index, pair in enumerate(characters)}
    tasks, members = [], {}
    for alphabet in sorted({alphabet for alphabet, _ in characters}):
        own = [pair for pair in characters if pair[0] == alphabet]
        task = tasks_lib.Task(families.task_name(alphabet), len(own),
                              tuple(character for _, character in own))
        tasks.append(task)
        members[task.name] = tuple(class_ids[pair] for pair in own)
    return tuple(tasks), members, class_ids


def drawer_split(drawer, validation):
    """"train", "validation" or "test" for a drawer's number (1-20)."""
    if drawer in TEST_DRAWERS:
        return "test"
    return "validation" if validation and drawer in VALIDATION_DRAWERS else "train"


def _paths(config):
    if config.archive:
        return [path.strip() for path in config.archive.split(",") if path.strip()]
    import tensorflow_datasets as tfds  # noqa: PLC0415  (slow to import; only this path needs it)

    folder = os.path.join(config.data_dir or os.path.expanduser("~/tensorflow_datasets"), "downloads")
    try:
        tfds_source.check_reachable(URLS[0])
        manager = tfds.download.DownloadManager(download_dir=folder)
        return [os.fspath(manager.download(url)) for url in URLS]
    except Exception as error:  # pylint: disable=broad-except  (many network error types)
        raise errors.UserError(
            f"Omniglot could not be downloaded ({type(error).__name__}); pass "
            f"--archive=images_background_small1.zip,images_background_small2.zip (the zips of "
            f"github.com/brendenlake/omniglot, downloaded where a network is reachable).") from None


@source.DATASETS.register("omniglot",
                         description="task family: one task per alphabet of the Omniglot archives")
def load_omniglot(config):
    """Returns Omniglot's alphabets as a task family, split by drawer."""
    if config.synthetic:
        raise errors.UserError("omniglot has no made-up images; pass --archive=ZIP,ZIP of the "
                               "real ones.")
    if config.validation_size not in (-1, 0):
        raise errors.UserError(f"omniglot's validation split is drawers 15 and 16, not a number "
                               f"of images: use --validation_size=-1 (them) or 0 (train on them), "
                               f"not {config.validation_size}.")
    entries = read_zips(_paths(config))
    keys = sorted(entries)
    tasks, members, class_ids = alphabet_tasks(keys)
    owner = {class_id: position for position, task in enumerate(tasks)
             for class_id in members[task.name]}
    images = decode([entries[key] for key in keys], config.image_size)
    classes = np.array([class_ids[key[:2]] for key in keys], np.int64)
    where = np.array([drawer_split(key[2], config.validation_size == -1) for key in keys])
    splits = {}
    for name in ("train", "validation", "test"):
        chosen = where == name
        splits[name] = source.Split(images[chosen], {
            families.CLASS: classes[chosen],
            families.OWNER: np.array([owner[c] for c in classes[chosen]], np.int64)})
    if config.validation_size == 0:
        splits["validation"] = None
    return families.make_source("omniglot", splits, tasks, members, config)
