"""Milliseconds per call of each gradient method's `task_weights`, with and without XLA.

    python benchmarks/gradient_methods.py [--tasks=2,3,10] [--calls=200] [--rounds=3]

For each task count T, a Gramian of T random gradients in R^64 (with two nearly opposite
ones, the hard case of the solvers), each method's `task_weights` compiled with
`tf.function`, plain and with `jit_compile=True`, timed alternately `--rounds` times over
`--calls` calls (after a warm-up call). Prints one JSON line per method, task count and
compilation: the median over rounds of the mean time per call. This is the method's own
cost: the step's dominant cost, computing the T task gradients, is the trainer's.
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from mtl_keras import methods  # noqa: E402

flags.DEFINE_list("tasks", ["2", "3", "10"], "Task counts T to time.")
flags.DEFINE_integer("calls", 200, "Calls per timing.")
flags.DEFINE_integer("rounds", 3, "Alternated rounds; the median is printed.")
FLAGS = flags.FLAGS


def gramian_of(task_count, seed=0):
    """G = J J^T for T random gradients in R^64, the first two nearly opposite."""
    jacobian = np.random.default_rng(seed).normal(size=(task_count, 64))
    if task_count >= 2:
        jacobian[1] = -jacobian[0] + 0.05 * jacobian[1]
    return tf.constant(jacobian @ jacobian.T, tf.float32)


def seconds_per_call(function, arguments, calls):
    function(*arguments).numpy()  # traces and compiles on the first call only
    start = time.perf_counter()
    for _ in range(calls):
        result = function(*arguments)
    result.numpy()
    return (time.perf_counter() - start) / calls


def main(argv):
    del argv
    names = [name for name in methods.METHODS.names()
             if methods.METHODS.get(name).level == "gradient"]
    for task_count in map(int, FLAGS.tasks):
        arguments = (gramian_of(task_count), tf.ones([task_count]), tf.constant(1, tf.int64))
        for name in names:
            method = methods.make(name, [f"task{index}" for index in range(task_count)])
            functions = {jit: tf.function(method.task_weights, jit_compile=jit)
                         for jit in (False, True)}
            timings = {False: [], True: []}
            for _ in range(FLAGS.rounds):
                for jit, function in functions.items():
                    timings[jit].append(seconds_per_call(function, arguments, FLAGS.calls))
            for jit, values in timings.items():
                print(json.dumps({"method": name, "tasks": task_count, "jit_compile": jit,
                                  "milliseconds": round(1000 * statistics.median(values), 3)}))


if __name__ == "__main__":
    app.run(main)
