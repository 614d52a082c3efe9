"""tf.distribute strategy, mixed precision and XLA choices, resolved from the config."""

import keras
import tensorflow as tf

from mtl_keras import errors


def make_strategy(name):
    """Returns the tf.distribute strategy that `name` asks for.

    "auto" mirrors over all GPUs when there are several and otherwise uses the default
    strategy; "multi_worker" reads the cluster from the standard TF_CONFIG variable.
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


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


def set_precision(mixed_precision):
    """Sets the global Keras dtype policy and returns its name.

    Mixed precision uses float16 on GPUs and bfloat16 on CPUs (float16 has no fast
    path on CPUs).
    """
    if not mixed_precision:
        policy = "float32"
    elif tf.config.list_physical_devices("GPU"):
        policy = "mixed_float16"
    else:
        policy = "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
