"""Where a study's runs train: in long-lived worker processes (`worker`), or each in a
process of its own, N at a time.

Either way a run is the command line `python -m mtl_keras.run ARGS` that the study prints:
a worker runs it as that command would, in a process that already started Python and
TensorFlow and may hold the run's decoded data. With N at once, each process has its share
of the cores (TF_NUM_INTRAOP/INTEROP_THREADS) and each run's output goes to
STUDY/logs/NAME.log. A run's wall time (study_run.json's `process_seconds`) runs from its
start (including its process's start-up when a process is started for it) to its status.

A worker that dies (killed, crashed) gives its run the status of its process (negative:
the signal that killed it) and is replaced for the next run. SIGINT or SIGTERM to the study
is passed to every running run, which saves its state and stops; `run_all` then returns
130 or 143.
"""

import json
import os
import select
import shlex
import signal
import subprocess
import time

from mtl_keras.studies import records

LOGS = "logs"  # beside the runs: each run's output when several run at once
WORKER = "mtl_keras.studies.worker"


class Terminated(Exception):
    """SIGTERM reached the study: its runs are asked to stop and save their state."""


def _raise_terminated(signal_number, frame):
    del signal_number, frame
    raise Terminated


# Each worker holds Python, TensorFlow and its run's dataset: about 2 GB.
MOST_RUNS_AT_ONCE = 4
NVIDIA_GPUS = "/proc/driver/nvidia/gpus"


def usable_cores():
    """The cores this process may run on (its affinity; the machine's without one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_parallel():
    """How many runs a study trains at once unless told: one per usable core, at most
    MOST_RUNS_AT_ONCE; one on a machine with an NVIDIA GPU, whose memory runs would share.

    A small model barely gains from a second thread (on 2 cores the Omniglot study's runs
    took as long one at a time with two threads as two at a time with one, and the study
    half the time: benchmarks/results/study-wall-time-2026-12-07.md), so runs side by side
    use the cores better than one run does."""
    if os.path.isdir(NVIDIA_GPUS) and os.listdir(NVIDIA_GPUS):
        return 1
    return max(1, min(usable_cores(), MOST_RUNS_AT_ONCE))


def threads_per_run(parallel):
    """TensorFlow's threads for each of `parallel` runs at once: the usable cores shared."""
    return max(1, usable_cores() // parallel)


def _environment(parallel):
    """The environment of a run's process: with several at once, the cores shared."""
    if parallel == 1:
        return None
    threads = str(threads_per_run(parallel))
    return {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}


def _log_path(planned, parallel):
    """STUDY/logs/NAME.log when several runs train at once, else None (the study's output)."""
    if parallel == 1:
        return None
    logs = os.path.join(os.path.dirname(planned.workdir), LOGS)
    os.makedirs(logs, exist_ok=True)
    return os.path.join(logs, f"{os.path.basename(planned.workdir)}.log")


class _Running:
    """A run started in a process; `finish` records it and gives its status."""

    def __init__(self, planned, python, log):
        self.planned, self.command = planned, planned.command(python)
        self.attempt = records.Attempt(planned.workdir)  # before any process starts for it
        log("$ " + shlex.join(self.command))

    def finish(self):
        """Waits for the run's status; records its wall time and code (study_run.json once
        finished)."""
        status = self._status()
        self.attempt.end(self.command, self.planned.finished)
        return status


class _OwnProcess(_Running):
    """A run in a new process of its own."""

    def __init__(self, planned, python, parallel, log):
        super().__init__(planned, python, log)
        path = _log_path(planned, parallel)
        self.output = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self.process = subprocess.Popen(self.command, stdout=self.output,  # noqa: S603
                                        stderr=self.output, env=_environment(parallel))

    def done(self):
        return self.process.poll() is not None

    def wait(self):
        self.process.wait()

    def stop(self, number):
        self.process.send_signal(number)

    def _status(self):
        status = self.process.wait()
        if self.output:
            self.output.close()
        return status


class Worker:
    """A worker process (`python -m mtl_keras.studies.worker`) and the pipes to it."""

    def __init__(self, python, parallel):
        request_out, request_in = os.pipe()
        reply_out, reply_in = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603
            [python, "-m", WORKER, str(request_out), str(reply_in)],
            pass_fds=(request_out, reply_in), env=_environment(parallel))
        os.close(request_out)
        os.close(reply_in)
        self.requests = os.fdopen(request_in, "w", encoding="utf-8")
        self.replies = os.fdopen(reply_out, encoding="utf-8")

    def alive(self):
        return self.process.poll() is None

    def send(self, command, log):
        """Asks the worker to run `command` (without the interpreter); False if it is gone."""
        try:
            self.requests.write(json.dumps({"command": command, "log": log}) + "\n")
            self.requests.flush()
        except BrokenPipeError:
            return False
        return True

    def ready(self, seconds=0):
        """Whether the worker replied (or died) within `seconds` (None: waits for it)."""
        return bool(select.select([self.replies], [], [], seconds)[0])

    def receive(self):
        """The status of the run it was sent: its reply, or its process's status if it died."""
        line = self.replies.readline()
        if line:
            return int(json.loads(line)["status"])
        return self.process.wait()

    def close(self, seconds=60.0):
        """Ends the worker (its requests closed; killed if it does not end in `seconds`)."""
        for pipe in (self.requests, self.replies):
            try:
                pipe.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _OnWorker(_Running):
    """A run sent to a worker."""

    def __init__(self, planned, python, parallel, log, workers):
        super().__init__(planned, python, log)
        self.worker = workers.take(python, parallel)
        self.sent = self.worker.send(self.command[1:], _log_path(planned, parallel))
        self.workers = workers

    def done(self):
        return not self.sent or self.worker.ready()

    def wait(self):
        if self.sent:
            self.worker.ready(None)

    def stop(self, number):
        if self.worker.alive():
            self.worker.process.send_signal(number)

    def _status(self):
        status = self.worker.receive() if self.sent else self.worker.process.wait()
        self.workers.give_back(self.worker)
        return status


class Workers:
    """The study's worker processes: an idle one is taken for a run, a new one started when
    none is idle, a dead one never reused."""

    def __init__(self):
        self.idle, self.every = [], []

    def take(self, python, parallel):
        while self.idle:
            worker = self.idle.pop()
            if worker.alive():
                return worker
        worker = Worker(python, parallel)
        self.every.append(worker)
        return worker

    def give_back(self, worker):
        if worker.alive():
            self.idle.append(worker)

    def close(self):
        for worker in self.every:
            worker.close()
        self.idle, self.every = [], []


def run_all(planned_runs, python, parallel, log, on_finish, reuse_process=True):
    """Runs `planned_runs` (an iterator), `parallel` at a time, on workers (`reuse_process`)
    or each in its own process; `on_finish(planned, status)` after each. Returns 130/143 when
    a signal stopped them (every running run asked to stop and save its state first), else 0."""
    workers = Workers()

    def start(planned):
        if reuse_process:
            return _OnWorker(planned, python, parallel, log, workers)
        return _OwnProcess(planned, python, parallel, log)

    active = []
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        while True:
            while len(active) < parallel:
                planned = next(planned_runs, None)
                if planned is None:
                    break
                active.append(start(planned))
            if not active:
                return 0
            done = _wait_any(active)
            active.remove(done)
            on_finish(done.planned, done.finish())
    except (KeyboardInterrupt, Terminated) as stop:
        interrupt = isinstance(stop, KeyboardInterrupt)
        for running in active:
            running.stop(signal.SIGINT if interrupt else signal.SIGTERM)
        for running in active:
            running.finish()
        return 130 if interrupt else 143
    finally:
        signal.signal(signal.SIGTERM, previous)
        workers.close()


def _wait_any(running):
    """The first of `running` whose run has ended (waits for one, which stays in `running`
    until then: a signal meanwhile reaches it)."""
    if len(running) == 1:
        running[0].wait()
        return running[0]
    while True:
        for candidate in running:
            if candidate.done():
                return candidate
        time.sleep(0.2)
