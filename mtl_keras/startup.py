"""Starting TensorFlow without its C++ start-up lines on the user's terminal.

Imported first by the package: it notes when it was imported, and whether the user asked for
TensorFlow's lines (TF_CPP_MIN_LOG_LEVEL=0 or 1) before setting a quiet default.
"""

import os
import sys
import time

# The earliest moment the package can note: where a run's phases start when the system does
# not say when the process started (`training.phases`).
IMPORTED = time.perf_counter()

# The lines are shown when the user asks for TensorFlow's informational or warning lines
# (TF_CPP_MIN_LOG_LEVEL 0 or 1); a quiet level (2, 3, or our own default inherited by a
# child process such as a study's run) keeps them hidden.
NATIVE_LOGS_ASKED = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2").strip() in ("0", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def start_tensorflow_quietly():
    """Imports TensorFlow and Keras and finds the devices with stderr sent to /dev/null.

    TensorFlow's C++ code prints start-up lines (oneDNN notices, a cuInit "error" on
    machines without a GPU) before it reads TF_CPP_MIN_LOG_LEVEL; they would bury the
    program's own lines. Python exceptions still reach the user: stderr is restored before
    they propagate. TF_CPP_MIN_LOG_LEVEL=0 (or 1) shows the lines again.
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

