"""Writing a run's files so that a kill at any moment leaves the previous good file.

Every file a run writes goes to a temporary name in the same folder, is flushed to disk,
and then takes its final name with one `os.replace`, which is atomic on POSIX file
systems: a reader sees the old file or the new one, never half of one.
"""

import contextlib
import errno
import fcntl
import json
import math
import os

from mtl_keras import errors

LOCK_NAME = ".lock"
# A full disk, a quota, a read-only file system, a folder without write permission.
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path` to write; on success, renames it to `path`.

    The temporary name keeps the file's extension (Keras wants ".keras" and ".h5") and
    is removed if the writer raises.

    Raises:
      UserError: the disk is full, or the folder cannot be written (`DISK_ERRORS`): one
        sentence naming the file; the file `path` held before is kept.
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(name)
    temporary = os.path.join(folder, f".{stem}.partial-{os.getpid()}{extension}")
    try:
        os.makedirs(folder, exist_ok=True)
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if error.errno not in DISK_ERRORS:
            raise
        raise errors.UserError(
            f"{path} cannot be written ({os.strerror(error.errno)}); free some space or give a "
            f"folder you can write; the files written before are kept.") from None
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as output:
            output.write(text)


def strict(value):
    """`value` with every non-finite float replaced by None, so that it is strict JSON."""
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, value):
    """Writes `value` as strict JSON (NaN and infinities become null) to `path`, atomically."""
    write_text(path, json.dumps(strict(value), indent=2, allow_nan=False) + "\n")


def read_json(path):
    """The JSON value in `path`.

    Raises:
      ValueError: the file is not JSON (damaged, truncated, empty); OSError: unreadable.
    """
    with open(path, encoding="utf-8") as json_file:
        return json.load(json_file)


def save_model(model, path):
    """`model.save(path)`, atomically."""
    with atomic_path(path) as temporary:
        model.save(temporary)


class WorkdirLock:
    """An exclusive lock on a run's folder, held by the process that writes into it.

    The lock is `flock` on `FOLDER/.lock`: the kernel releases it when the process ends,
    however it ends, so a killed run never leaves its folder locked.
    """

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK_NAME)
        self._file = None

    def acquire(self):
        """Takes the lock; raises UserError when another process holds it."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (held until release)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            self._file = None
            raise errors.UserError(self._held_message()) from None

    def release(self):
        """Releases the lock (also released when the process ends)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def check_free(self):
        """Raises UserError when another process holds the lock; writes nothing."""
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise errors.UserError(self._held_message()) from None
            fcntl.flock(probe, fcntl.LOCK_UN)

    def _held_message(self):
        folder = os.path.dirname(self.path)
        return (f"another process is writing into --workdir={folder}; wait for it to end, "
                f"or pass a new --workdir.")
