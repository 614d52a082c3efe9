"""Starting TensorFlow without its C++ start-up lines on the user's terminal.

Imported first by the entry points: it notes whether the user set TF_CPP_MIN_LOG_LEVEL
before setting a quiet default.
"""

import os
import sys

NATIVE_LOGS_ASKED = "TF_CPP_MIN_LOG_LEVEL" in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def start_tensorflow_quietly():
    """Imports TensorFlow and Keras and finds the devices with stderr sent to /dev/null.

    TensorFlow's C++ code prints start-up lines (oneDNN notices, a cuInit "error" on
    machines without a GPU) before it reads TF_CPP_MIN_LOG_LEVEL; they would bury the
    program's own lines. Python exceptions still reach the user: stderr is restored before
    they propagate. Setting TF_CPP_MIN_LOG_LEVEL yourself shows the lines again.
    """
    if NATIVE_LOGS_ASKED:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras  # noqa: F401, PLC0415
            import tensorflow as tf  # noqa: PLC0415

            tf.config.list_physical_devices()  # the GPU platform's start-up lines
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def child_environment():
    """The environment for a child process of ours (a study's runs): as this process's, but
    without the quiet default this module set, so that the child decides as we did."""
    environment = dict(os.environ)
    if not NATIVE_LOGS_ASKED:
        environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return environment
