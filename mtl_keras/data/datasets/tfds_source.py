"""Loading a TensorFlow Datasets dataset into memory, with a clear offline error."""

import socket
import urllib.parse

import numpy as np
from absl import logging

from mtl_keras import errors

_PROBE_SECONDS = 10


def check_reachable(url):
    """Raises OSError quickly when the host of `url` cannot be reached.

    TFDS retries a failed download for minutes; one short connection attempt first
    lets an offline machine fail in seconds.
    """
    parsed = urllib.parse.urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    with socket.create_connection((parsed.hostname, port), timeout=_PROBE_SECONDS):
        pass


def load_arrays(name, data_dir, download_url, offline_help):
    """Downloads and prepares a TFDS dataset if needed and returns its splits as numpy.

    Args:
      name: the TFDS dataset name, e.g. "cifar100".
      data_dir: the TFDS data directory, or None for TFDS' default.
      download_url: the address TFDS downloads from, probed before downloading.
      offline_help: what the user can do instead, appended to the error.

    Returns:
      {split name: {feature name: numpy array}} for the "train" and "test" splits.

    Raises:
      UserError: the dataset is not prepared and cannot be downloaded.
    """
    import tensorflow_datasets as tfds  # Imported late: it is slow and only this path needs it.

    builder = prepared_builder(tfds.builder(name, data_dir=data_dir), download_url, offline_help)
    return {split: _to_numpy(builder.as_dataset(split=split), tfds) for split in ("train", "test")}


def prepared_builder(builder, download_url, offline_help):
    """Returns the TFDS `builder`, after downloading and preparing its dataset if needed.

    Raises:
      UserError: the dataset is not prepared and cannot be downloaded; the message names
        the folder searched, the failure, and then `offline_help`.
    """
    if not _is_prepared(builder):
        try:
            check_reachable(download_url)
            builder.download_and_prepare()
        except Exception as error:  # pylint: disable=broad-except
            # requests, urllib3 and TFDS raise many unrelated types for a failed download.
            raise errors.UserError(
                f"{builder.name} is not prepared in {builder.data_dir} and could not be "
                f"downloaded from {download_url} ({type(error).__name__}: {_first_line(error)}). "
                f"{offline_help}"
            ) from None
    return builder


def prepare_elsewhere(name):
    """How to bring TFDS dataset `name` to a machine without internet (one clause)."""
    return ("on a machine with internet, run `python -c \"import tensorflow_datasets as tfds; "
            f"tfds.builder('{name}').download_and_prepare()\"`, copy its ~/tensorflow_datasets "
            "folder here and pass --data_dir=THAT_FOLDER")


def _is_prepared(builder):
    # TFDS logs a warning for every folder it finds unprepared; here that is expected.
    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    try:
        return builder.is_prepared()
    finally:
        logging.set_verbosity(verbosity)


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:300] if text else "no detail"


def _to_numpy(dataset, tfds):
    parts = {}
    for batch in tfds.as_numpy(dataset.batch(10_000)):
        for key, value in batch.items():
            parts.setdefault(key, []).append(value)
    return {key: np.concatenate(values) for key, values in parts.items()}
