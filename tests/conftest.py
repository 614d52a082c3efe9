"""Shared set-up of the mtl_keras tests.

At import (before any TensorFlow op runs) the one physical CPU is split into two
logical CPUs, so that a MirroredStrategy over "/cpu:0" and "/cpu:1" has two replicas.
"""

import os
import socket
import tempfile

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
# "auto" precision's measurement, kept for the machine's later test sessions (and their
# subprocesses) outside the user's own cache.
os.environ["MTL_KERAS_CACHE"] = os.path.join(tempfile.gettempdir(),
                                           f"mtl_keras-tests-{os.getuid()}")

import pytest  # noqa: E402

from mtl_keras import startup  # noqa: E402

startup.start_tensorflow_quietly()  # each pytest-xdist worker too: no native start-up lines

import tensorflow as tf  # noqa: E402

_CPUS = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _CPUS[0], [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

import keras  # noqa: E402

from mtl_keras.data.labels import hierarchy as hierarchy_lib  # noqa: E402

from helpers import CifarArchiveMaker  # noqa: E402

# The files that take longest, first: `make test` gives the two processes whole files in
# collection order (--dist loadfile --no-loadscope-reorder), so the suite does not end with
# one process in a long file while the other waits.
SLOW_FILES = ("step/test_train_step.py", "training/test_small_folder.py",
              "training/test_multi_worker.py", "models/test_architectures.py",
              "studies/test_worker_figures.py", "protocols/test_protocols.py",
              "training/test_resume.py", "test_library.py",
              "studies/test_workers.py", "methods/test_gradient_methods_behaviour.py",
              "training/test_reliability.py")


def pytest_collection_modifyitems(items):
    """Puts the tests of `SLOW_FILES` first, in its order; the others keep theirs."""
    def rank(item):
        path = item.nodeid.partition("::")[0].removeprefix("tests/")
        return SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES)
    items.sort(key=rank)
from helpers import TrainFlags  # noqa: E402


# --------------------------------------------------------------------------- hermeticity

@pytest.fixture(scope="session", autouse=True)
def no_network():
    """Fails any attempt of in-process code to open an internet connection."""
    connect = socket.socket.connect

    def refuse(sock, address, *args, **kwargs):
        if sock.family == getattr(socket, "AF_UNIX", None):
            return connect(sock, address)
        raise OSError(f"network access attempted in a hermetic test: {address!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield


@pytest.fixture(autouse=True)
def fresh_keras_state():
    """Each test starts with float32 and a fresh Keras name space.

    Without Python's garbage collection, which `clear_session` runs by default: it walks
    every object the process holds, about a second per test late in the suite (nearly half
    of the suite's time), and Python collects the same garbage on its own.
    """
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session(free_memory=False)
    yield
    keras.mixed_precision.set_global_policy("float32")


# --------------------------------------------------------------------------- flags

@pytest.fixture
def run_flags():
    """The train command's flags (`helpers.TrainFlags`), unparsed (all defaults) before and
    after the test: they are the module's, so a value parsed by one test would otherwise
    leak into the next."""
    flag_values = TrainFlags()
    flag_values.unparse_flags()
    yield flag_values
    flag_values.unparse_flags()


# --------------------------------------------------------------------------- data helpers

@pytest.fixture(scope="session")
def cifar_hierarchy():
    """CIFAR-100's fine → coarse hierarchy, as mtl_keras ships it."""
    return hierarchy_lib.load("cifar100", ("fine", "coarse"))


@pytest.fixture
def archives(tmp_path, cifar_hierarchy):
    """Writes small CIFAR-100 archives in the original layouts into tmp_path."""
    return CifarArchiveMaker(tmp_path, cifar_hierarchy)
