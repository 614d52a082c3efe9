"""Readers for the original CIFAR archives, for machines without internet.

Both published layouts of both datasets are read:
  cifar-100-python.tar.gz: pickled dicts `train` and `test` with b"data" (N×3072 uint8,
    channel-major 3×32×32), b"fine_labels" and b"coarse_labels";
  cifar-100-binary.tar.gz: `train.bin` and `test.bin`, records of 3,074 bytes
    (coarse label, fine label, 3,072 channel-major pixels);
  cifar-10-python.tar.gz: pickled dicts `data_batch_1` to `_5` and `test_batch` with
    b"data" and b"labels";
  cifar-10-binary.tar.gz: `data_batch_1.bin` to `_5.bin` and `test_batch.bin`, records of
    3,073 bytes (label, 3,072 pixels).
The layout is recognised from the archive's member names, not the file name.
"""

import io
import pickle
import tarfile

import numpy as np

from mtl_keras import errors
from mtl_keras.data import source

_PIXELS = 3 * 32 * 32

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


_LAYOUTS = {  # dataset → {layout: (train members, test members)}
    "cifar100": {"python": (("train",), ("test",)), "binary": (("train.bin",), ("test.bin",))},
    "cifar10": {"python": (tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",)),
                "binary": (tuple(f"data_batch_{i}.bin" for i in range(1, 6)), ("test_batch.bin",))},
}


def read(path, dataset="cifar100"):
    """Reads an original CIFAR archive of `dataset` in either layout.

    Args:
      path: path of e.g. `cifar-100-python.tar.gz` or `cifar-10-binary.tar.gz`.
      dataset: "cifar100" or "cifar10".

    Returns:
      {"train": Split, "test": Split} with labels "fine" (and "coarse" for CIFAR-100).

    Raises:
      UserError: the file is missing, not a tar archive, or not a layout of `dataset`.
    """
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {member.name.split("/", 1)[-1]: member for member in archive.getmembers()
                       if member.isfile()}
            for layout, (train, test) in _LAYOUTS[dataset].items():
                if set(train + test) <= members.keys():
                    parse = _parse_python if layout == "python" else _parse_binary
                    return {split: _concatenate([
                        parse(archive.extractfile(members[name]).read(), f"{path}:{name}", dataset)
                        for name in names]) for split, names in (("train", train), ("test", test))}
            python, binary = (", ".join(train + test) for train, test in _LAYOUTS[dataset].values())
            raise errors.UserError(
                f"--archive={path} is not an original {dataset} archive: it holds neither "
                f"{python} (python layout) nor {binary} (binary layout).")
    except FileNotFoundError:
        raise errors.UserError(f"--archive={path} does not exist; check the path.") from None
    except (tarfile.TarError, EOFError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise errors.UserError(
            f"--archive={path} is not a readable tar.gz archive ({reason}); download it again."
        ) from None


def _concatenate(splits):
    if len(splits) == 1:
        return splits[0]
    return source.Split(np.concatenate([split.images for split in splits]),
                        {name: np.concatenate([split.labels[name] for split in splits])
                         for name in splits[0].labels})


def _parse_python(payload, where, dataset):
    keys = (b"fine_labels", b"coarse_labels") if dataset == "cifar100" else (b"labels",)
    try:
        batch = _SafeUnpickler(io.BytesIO(payload), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = [np.asarray(batch[key], dtype=np.int64) for key in keys]
    except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as error:
        raise errors.UserError(f"{where} is not a {dataset} python batch ({error}).") from None
    if data.ndim != 2 or data.shape[1] != _PIXELS or any(len(y) != len(data) for y in labels):
        raise errors.UserError(
            f"{where} has data of shape {data.shape} with {[len(y) for y in labels]} labels; "
            f"expected N×{_PIXELS} with N labels of each kind.")
    return _split(data, *labels)


def _parse_binary(payload, where, dataset):
    label_bytes = 2 if dataset == "cifar100" else 1
    record = label_bytes + _PIXELS
    if len(payload) % record:
        raise errors.UserError(
            f"{where} is {len(payload)} bytes, not a whole number of {record}-byte records; "
            f"the file is truncated or not {dataset} binary.")
    records = np.frombuffer(payload, dtype=np.uint8).reshape(-1, record)
    if dataset == "cifar100":  # the coarse label comes first
        return _split(records[:, 2:], records[:, 1].astype(np.int64), records[:, 0].astype(np.int64))
    return _split(records[:, 1:], records[:, 0].astype(np.int64))


def _split(data, fine, coarse=None):
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = {"fine": fine} if coarse is None else {"fine": fine, "coarse": coarse}
    return source.Split(np.ascontiguousarray(images), labels)
