"""tf.distribute strategy and XLA choices, resolved from the config (precision: precision.py)."""

import json
import os

import tensorflow as tf

from mtl_keras import errors


def make_strategy(name):
    """Returns the tf.distribute strategy that `name` asks for.

    "auto" mirrors over all GPUs when there are several and otherwise uses the default
    strategy; "multi_worker" reads the cluster from the standard TF_CONFIG variable. The
    multi-worker strategy is made before anything else touches TensorFlow's runtime,
    which it must configure itself.

    Raises:
      UserError: "multi_worker" without a usable TF_CONFIG.
    """
    if name == "multi_worker":
        read_tf_config()  # a missing or malformed TF_CONFIG fails here, with its fix
        return _MultiWorkerStrategy()
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    return mirrored_strategy()


_MIRRORED = {}


def mirrored_strategy(devices=None):
    """The process's MirroredStrategy over `devices` (default: all local GPUs, else the CPUs).

    One per set of devices and process: two MirroredStrategy objects over the same devices
    number their collective operations alike, and a run in the second one fails with
    "Shape mismatch in the collective instance" once its first all-reduce differs in shape
    from the first one's (TensorFlow 2.21). Runs one after another in one process (a study,
    the tests) therefore share it.

    Raises:
      ValueError: a device that this process does not have (TensorFlow's strategy would
        wait for it forever).
    """
    key = tuple(devices) if devices else None
    if key not in _MIRRORED:
        if devices:
            _check_devices(devices)
        _MIRRORED[key] = tf.distribute.MirroredStrategy(list(devices) if devices else None)
    return _MIRRORED[key]


def _check_devices(devices):
    """Raises ValueError naming the `devices` that are not among this process's devices."""
    def kind_and_index(name):
        spec = tf.DeviceSpec.from_string(name)
        return spec.device_type, spec.device_index

    local = tf.config.list_logical_devices()
    known = {kind_and_index(device.name) for device in local}
    missing = [name for name in devices if kind_and_index(name) not in known]
    if missing:
        raise ValueError(f"No device {', '.join(missing)} here: this process has "
                         f"{', '.join(device.name for device in local)}; mirror over those.")


class _MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """MultiWorkerMirroredStrategy that Keras 3's `fit()` works with.

    Keras 3 (3.15) reduces every step's scalar logs with `axis=0`, which the multi-worker
    strategy refuses (a scalar has no axis 0; keras-team/keras#20585): a scalar is averaged
    over the replicas, which is what `axis=0` means for the other strategies. (Keras also
    reduces a first input batch drawn before training; `MultiTaskModel` builds from the
    data's shapes instead, so that the batches trained are those of one device.)
    """

    def reduce(self, reduce_op, value, axis):
        if axis is not None and all(part.shape.rank == 0
                                    for part in self.experimental_local_results(value)):
            axis = None
        return super().reduce(reduce_op, value, axis)


def read_tf_config():
    """Returns (task type, task index) from the TF_CONFIG variable.

    Raises:
      UserError: TF_CONFIG is missing, not JSON, or does not name this task in its cluster.
    """
    example = ('e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        raise errors.UserError(f"--strategy=multi_worker needs the TF_CONFIG variable; set it on "
                               f"every worker, {example}.")
    try:
        tf_config = json.loads(text)
        cluster, task = tf_config["cluster"], tf_config["task"]
        task_type, task_id = task["type"], int(task["index"])
        addresses = cluster[task_type]
        if not 0 <= task_id < len(addresses):
            raise IndexError
    except (ValueError, KeyError, TypeError, IndexError):
        raise errors.UserError(f"TF_CONFIG does not give a cluster and this task's type and index "
                               f"in it; {example}.") from None
    return task_type, task_id


def worker_name(strategy):
    """None for the process that writes the run's files (the chief), else e.g. "worker-1".

    Under the multi-worker strategy the chief is the "chief" task, or worker 0 when the
    cluster has none; every other worker writes into a folder of its own.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    if task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief):
        return None
    return f"{task_type}-{task_id}"


def check_batch_size(batch_size, strategy):
    """Raises UserError unless the global batch divides evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise errors.UserError(
            f"--batch_size={batch_size} (global) does not divide over {replicas} replicas; "
            f"use a multiple of {replicas}.")


def resolve_jit_compile(setting):
    """Returns whether to compile with XLA.

    "auto" means XLA on GPUs only: on CPUs XLA was measured slower for our trunks
    (about half the speed of the simple CNN), and Keras' own "auto" would switch it on.
    """
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "true"


def public_name(strategy):
    """The name a person gives `strategy` with --strategy: default, mirrored or multi_worker."""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi_worker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    name = type(strategy).__name__
    return "default" if "Default" in name else name
