"""Mixed precision: the global Keras dtype policy for "auto", "true" or "false".

Mixed precision computes in float16 on GPUs and in bfloat16 on CPUs (float16 has no fast
path on CPUs), keeping variables in float32. "auto" turns it on where it is faster:

- on GPUs with tensor cores (compute capability 7.0 or later);
- on CPUs that multiply bfloat16 natively (AVX-512 BF16 or AMX) *and* where a short
  measurement says bfloat16 is faster. The flags alone do not decide: on one AVX-512 BF16
  CPU (AMD Zen 4) the simple CNN trained 1.7x faster in bfloat16, on another (an Intel
  Xeon without AMX) 1.5-2x slower. The measurement (about 2 s: a small convolutional
  network's forward and backward pass in both precisions, alternated) runs once per CPU
  model and TensorFlow version and is kept in `cache_path()`.
"""

import datetime
import os
import time

import keras
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import fileio

# bfloat16 is chosen when its step takes at most this fraction of float32's.
FASTER_BELOW = 0.9
CACHE_VARIABLE = "MTL_KERAS_CACHE"


def set_precision(setting):
    """Sets the global Keras dtype policy for "auto", "true" or "false"; returns its name."""
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    if setting == "auto":
        fast = gpu_has_fast_float16() if on_gpu else cpu_has_fast_bfloat16()
        setting = "true" if fast else "false"
    if setting == "false":
        policy = "float32"
    else:
        policy = "mixed_float16" if on_gpu else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def gpu_has_fast_float16():
    """Whether every local GPU has tensor cores (compute capability 7.0 or later)."""
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                    for gpu in gpus]
    return bool(gpus) and all(c is not None and tuple(c) >= (7, 0) for c in capabilities)


def cpu_has_fast_bfloat16():
    """Whether bfloat16 trains faster than float32 on this CPU (measured once, then cached)."""
    cpu = cpu_description()
    if not cpu["native_bfloat16"]:
        return False
    return _cached_ratio(cpu) <= FASTER_BELOW


def cpu_description():
    """{"model": the CPU's model name, "native_bfloat16": AVX-512 BF16 or AMX}, Linux only."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            text = cpuinfo.read()
    except OSError:
        return {"model": "unknown", "native_bfloat16": False}
    model = next((line.partition(":")[2].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown")
    native = bool(set(text.split()) & {"avx512_bf16", "amx_bf16"})
    return {"model": model, "native_bfloat16": native}


def cache_path():
    """The file of measured precisions: $MTL_KERAS_CACHE, else ~/.cache/mtl_keras."""
    folder = os.environ.get(CACHE_VARIABLE) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mtl_keras")
    return os.path.join(folder, "precision.json")


def _cached_ratio(cpu):
    """bfloat16's step time over float32's on `cpu`, from the cache or measured now."""
    key = f"{cpu['model']} | TensorFlow {tf.__version__}"
    path = cache_path()
    try:
        known = fileio.read_json(path)
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    entry = known.get(key)
    if isinstance(entry, dict) and isinstance(entry.get("bfloat16_time_ratio"), (int, float)):
        return entry["bfloat16_time_ratio"]
    ratio = measure_bfloat16_time_ratio()
    known[key] = {"bfloat16_time_ratio": round(ratio, 3),
                  "measured": datetime.datetime.now().isoformat(timespec="seconds")}
    try:
        fileio.write_json(path, known)
    except (OSError, errors.UserError):  # an unwritable cache only means measuring again
        pass
    return ratio


def measure_bfloat16_time_ratio(rounds=3, steps=5):
    """Times a small conv net's forward and backward pass in bfloat16 and in float32,
    alternated over `rounds` of `steps` steps; returns the best bfloat16 time over the best
    float32 time (below 1: bfloat16 is faster).

    Written in TensorFlow ops with stateless initial values: no Keras layer is made, so the
    measurement leaves Keras' random seed, layer names and dtype policy as it found them (a
    run measured on its first start builds the same model as after)."""
    steps_by_dtype = {dtype: _probe_step(dtype) for dtype in (tf.float32, tf.bfloat16)}
    for step in steps_by_dtype.values():
        step()
        step()
    best = dict.fromkeys(steps_by_dtype, float("inf"))
    for _ in range(rounds):
        for dtype, step in steps_by_dtype.items():
            start = time.perf_counter()
            for _ in range(steps):
                step()
            best[dtype] = min(best[dtype], time.perf_counter() - start)
    return best[tf.bfloat16] / best[tf.float32]


def _probe_step(dtype, batch=64, size=32):
    """A compiled forward + backward pass of a three-convolution network computing in
    `dtype` on float32 variables, as mixed precision does."""
    shapes = [(3, 3, 3, 32), (3, 3, 32, 64), (3, 3, 64, 128), (128, 10)]
    variables = [tf.Variable(0.1 * tf.random.stateless_normal(shape, (index, 0)))
                 for index, shape in enumerate(shapes)]
    images = tf.random.stateless_uniform((batch, size, size, 3), (1, 2))
    labels = tf.zeros((batch,), tf.int32)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            hidden = tf.cast(images, dtype)
            for index, kernel in enumerate(variables[:-1]):
                hidden = tf.nn.relu(tf.nn.conv2d(hidden, tf.cast(kernel, dtype),
                                                 strides=1 if index == 0 else 2, padding="SAME"))
            pooled = tf.cast(tf.reduce_mean(hidden, axis=[1, 2]), tf.float32)
            logits = tf.matmul(pooled, variables[-1])
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return tape.gradient(loss, variables)

    return step
