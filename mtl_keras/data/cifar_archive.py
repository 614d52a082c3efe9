"""Readers for the original CIFAR-100 archives, for machines without internet.

Two layouts are published and both are read:
  cifar-100-python.tar.gz: pickled dicts `train` and `test` with b"data" (N×3072 uint8,
    channel-major 3×32×32), b"fine_labels" and b"coarse_labels";
  cifar-100-binary.tar.gz: `train.bin` and `test.bin`, records of 3,074 bytes
    (coarse label, fine label, 3,072 channel-major pixels).
The layout is recognised from the archive's member names, not the file name.
"""

import io
import pickle
import tarfile

import numpy as np

from mtl_keras import errors
from mtl_keras.data import source

_PIXELS = 3 * 32 * 32
_BINARY_RECORD = 2 + _PIXELS

# The python layout is a pickle; only these harmless globals may appear in it, so a
# tampered archive cannot run code when read.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


def read(path):
    """Reads a CIFAR-100 archive in either original layout.

    Args:
      path: path of `cifar-100-python.tar.gz` or `cifar-100-binary.tar.gz`.

    Returns:
      {"train": Split, "test": Split} with labels "fine" and "coarse".

    Raises:
      UserError: the file is missing, not a tar archive, or not a CIFAR-100 layout.
    """
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {member.name.split("/", 1)[-1]: member for member in archive.getmembers()
                       if member.isfile()}
            if {"train", "test"} <= members.keys():
                parse, names = _parse_python, ("train", "test")
            elif {"train.bin", "test.bin"} <= members.keys():
                parse, names = _parse_binary, ("train.bin", "test.bin")
            else:
                raise errors.UserError(
                    f"--archive={path} holds neither cifar-100-python (train, test) nor "
                    f"cifar-100-binary (train.bin, test.bin); pass one of the original archives."
                )
            return {split: parse(archive.extractfile(members[name]).read(), f"{path}:{name}")
                    for split, name in zip(("train", "test"), names)}
    except FileNotFoundError:
        raise errors.UserError(f"--archive={path} does not exist; check the path.") from None
    except (tarfile.TarError, EOFError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise errors.UserError(
            f"--archive={path} is not a readable tar.gz archive ({reason}); download it again."
        ) from None


def _parse_python(payload, where):
    try:
        batch = _SafeUnpickler(io.BytesIO(payload), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        fine = np.asarray(batch[b"fine_labels"], dtype=np.int64)
        coarse = np.asarray(batch[b"coarse_labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as error:
        raise errors.UserError(f"{where} is not a CIFAR-100 python batch ({error}).") from None
    if data.ndim != 2 or data.shape[1] != _PIXELS or not len(data) == len(fine) == len(coarse):
        raise errors.UserError(
            f"{where} has data of shape {data.shape} with {len(fine)} fine and {len(coarse)} "
            f"coarse labels; expected N×{_PIXELS} with N of each."
        )
    return _split(data, fine, coarse)


def _parse_binary(payload, where):
    if len(payload) % _BINARY_RECORD:
        raise errors.UserError(
            f"{where} is {len(payload)} bytes, not a whole number of {_BINARY_RECORD}-byte "
            f"records; the file is truncated or not CIFAR-100 binary."
        )
    records = np.frombuffer(payload, dtype=np.uint8).reshape(-1, _BINARY_RECORD)
    return _split(records[:, 2:], records[:, 1].astype(np.int64), records[:, 0].astype(np.int64))


def _split(data, fine, coarse):
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return source.Split(np.ascontiguousarray(images), {"fine": fine, "coarse": coarse})
