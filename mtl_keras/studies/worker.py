"""A study's worker: one long-lived process that trains a study's runs one after another.

`python -m mtl_keras.studies.worker REQUESTS REPLIES` (two file descriptors of pipes that
the study opened) reads one JSON line per run from REQUESTS, {"command": ["-m", MODULE,
ARGUMENTS...], "log": a file or null}, runs it as `python -m MODULE ARGUMENTS...` would (the
module run as `__main__` with that `sys.argv`, its exit status caught; its output appended to
the log when one is given), then writes {"status": N} on REPLIES. It ends when REQUESTS is
closed, or with status 130/143 when SIGINT/SIGTERM reaches it between runs.

The interpreter, the imports and TensorFlow's start are paid once per worker, and the last
dataset decoded stays in memory for the next run of the same data (`data.kept`). Between
runs the process's global state goes back to what it was before the first one (`Baseline`):
a run in a worker computes what it computes in a process of its own.
"""

import contextlib
import json
import os
import runpy
import signal
import sys
import time
import traceback

import keras
from tensorflow.python.eager.polymorphic_function import polymorphic_function  # noqa: PLC2701
from tensorflow.python.framework import config as tf_config  # noqa: PLC2701

from mtl_keras.data import kept
from mtl_keras.training import phases


class Terminated(BaseException):
    """SIGTERM reached the worker outside a run's own handlers (between runs, or before a
    run installed them)."""


def _raise_terminated(signal_number, frame):
    del signal_number, frame
    raise Terminated


class Baseline:
    """The global state a run may change, as the process had it before its first run."""

    def __init__(self):
        self.floatx = keras.config.floatx()
        # TensorFlow's public API can only turn op determinism on (--deterministic); the
        # next run must start without it unless it asks for it too.
        self.determinism = tf_config.is_op_determinism_enabled()
        self.handlers = {number: signal.getsignal(number)
                         for number in (signal.SIGINT, signal.SIGTERM)}
        self.environment = dict(os.environ)
        self.folder = os.getcwd()
        self.argv = list(sys.argv)

    def restore(self, free_memory=True):
        """Puts the state back: Keras' session (layer names counted from 0 again, the dtype
        policy unset, the last run's models freed by a garbage collection when `free_memory`),
        TensorFlow's count of traces, float type, op determinism, signal handlers,
        environment, working folder and `sys.argv`."""
        keras.backend.clear_session(free_memory=free_memory)
        # TensorFlow counts the traces of a function's code over the process, and would warn
        # of "retracing" in a later run that traces its steps as a run of its own does.
        manager = getattr(polymorphic_function, "_FrequentTracingDetectorManager", None)
        if manager is not None:
            polymorphic_function._frequent_tracing_detector_manager = manager()  # noqa: SLF001
        keras.config.set_floatx(self.floatx)
        if tf_config.is_op_determinism_enabled() != self.determinism:
            (tf_config.enable_op_determinism if self.determinism
             else tf_config.disable_op_determinism)()
        for number, handler in self.handlers.items():
            signal.signal(number, handler)
        os.environ.clear()
        os.environ.update(self.environment)
        os.chdir(self.folder)
        sys.argv = list(self.argv)


@contextlib.contextmanager
def _output_to(log):
    """Sends the process's stdout and stderr (Python's and native code's) to `log`, appended,
    while the block runs; with no log, leaves them where they are."""
    if not log:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    with open(log, "a", encoding="utf-8") as output:
        os.dup2(output.fileno(), 1)
        os.dup2(output.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for number, copy in zip((1, 2), saved):
                os.dup2(copy, number)
                os.close(copy)


def exit_status(code):
    """The status a process exits with when `SystemExit(code)` leaves it, as Python gives it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(command, log=None):
    """Runs `command` (["-m", MODULE, ARGUMENTS...]) as `python -m` would; returns its status.

    A signal that stops it outside its own handlers gives 130 (SIGINT) or 143 (SIGTERM);
    an exception that leaves it is printed, with status 1, as Python does.
    """
    option, module, *arguments = command
    if option != "-m":
        raise ValueError(f"a worker runs modules (-m MODULE ...), not {command!r}")
    with _output_to(log):
        sys.argv = [module, *arguments]  # runpy puts the module's file first, as -m does
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as stop:
            status = exit_status(stop.code)
        except KeyboardInterrupt:
            status = 130
        except Terminated:
            status = 143
        except BaseException:  # noqa: BLE001  (a crash of the run is its status 1, not ours)
            traceback.print_exc()
            status = 1
    return status


def serve(requests, replies):
    """Runs each request of `requests` (lines), writes each status to the file descriptor
    `replies` (unbuffered: a study that is gone fails the write, not the process's end)."""
    baseline = Baseline()
    kept.keep_last()
    for line in requests:
        phases.next_run_starts_at(time.perf_counter())  # the run's start-up begins here
        request = json.loads(line)
        baseline.restore()
        status = run(request["command"], request.get("log"))
        baseline.restore()  # also frees the run's model while the worker waits
        os.write(replies, (json.dumps({"status": status}) + "\n").encode())


def main(argv):
    """The worker's entry: `argv` [program, REQUESTS, REPLIES]; returns its exit status."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with os.fdopen(int(argv[1]), encoding="utf-8") as requests:
            serve(requests, int(argv[2]))
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 143
    except BrokenPipeError:
        return 1  # the study is gone: nobody reads the status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
