"""A study's runs in long-lived worker processes: a run that fails leaves its worker to the
next run, a worker that dies is replaced, each run has its own log with --parallel=2, and a
signal stops every running run with its state saved. A stand-in module, run by the real
worker as `python -m STANDIN ...`, sleeps instead of training (the same figures as in a
process of one's own: test_worker_figures.py)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import helpers

from mtl_keras import config as config_lib
from mtl_keras.studies import planning
from mtl_keras.studies import processes
from mtl_keras.studies import records
from mtl_keras.studies import runner

# Notes its process; seed 1 fails (status 1), seed 2 kills its process (its worker); on
# SIGINT/SIGTERM it writes "stopped" and exits 130/143, as a run does.
STANDIN = textwrap.dedent("""\
    import json, os, signal, sys, time
    arguments = dict(a[2:].split("=", 1) for a in sys.argv[1:])
    workdir, seed = arguments["workdir"], int(arguments["seed"])
    os.makedirs(workdir, exist_ok=True)
    open(os.path.join(workdir, "pid"), "w").write(str(os.getpid()))
    json.dump({"protocol": "joint", "seed": seed}, open(os.path.join(workdir, "config.json"), "w"))
    def stop(number, frame):
        open(os.path.join(workdir, "stopped"), "w").write(str(number))
        sys.exit(130 if number == signal.SIGINT else 143)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("run", seed, "threads", os.environ.get("TF_NUM_INTRAOP_THREADS"), flush=True)
    if seed == 1:
        sys.exit(1)
    if seed == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.time()
    time.sleep(float(os.environ["STANDIN_SECONDS"]))
    open(os.path.join(workdir, "flags.txt"), "w").write(f"--protocol=joint\\n--seed={seed}\\n")
    json.dump({"heads": {"a": {"accuracy": 0.5}}, "span": [start, time.time()]},
              open(os.path.join(workdir, "metrics.json"), "w"))
""")


class StandInRun(planning.PlannedRun):
    """A planned run whose command runs the stand-in module instead of mtl_keras.run."""

    def command(self, python):
        return [python, "-m", "standin_run", *self.training_arguments]


def _plan(tmp_path, seeds):
    flagfile = tmp_path / "joint.flags"
    flagfile.write_text("--dataset=x\n--protocol=joint\n")
    folder = tmp_path / "study"
    runs = planning.plan([(str(flagfile), config_lib.Config())], seeds, str(folder), None)
    return [StandInRun(**vars(planned)) for planned in runs], folder


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """The stand-in module importable by the workers; sleeps STANDIN_SECONDS (0.3)."""
    (tmp_path / "standin_run.py").write_text(STANDIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    monkeypatch.setenv("STANDIN_SECONDS", "0.3")
    return tmp_path


def _pid(folder, seed):
    return int((folder / f"joint-seed{seed}" / "pid").read_text())


def _ended(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_failed_run_keeps_its_worker_and_a_dead_worker_is_replaced(standin):
    runs, folder = _plan(standin, [0, 1, 2, 3])
    lines = []
    assert runner.run_study(runs, str(folder), sys.executable, log=lines.append) == 1
    assert _pid(folder, 0) == _pid(folder, 1) == _pid(folder, 2) != os.getpid()
    assert _pid(folder, 3) != _pid(folder, 2)  # the killed worker's successor
    assert [planned.finished for planned in runs] == [True, False, False, True]
    assert (f"[study] failed: joint-seed1 (exit status 1), joint-seed2 (exit status "
            f"{-signal.SIGKILL})") in lines
    assert any(line.startswith("$ ") and "-m standin_run" in line and "--seed=3" in line
               for line in lines)  # each run printed as its command line
    record = json.loads((folder / "joint-seed3" / "study_run.json").read_text())
    assert 0.3 <= record["process_seconds"] < 30
    assert _ended(_pid(folder, 3))  # the study ends its workers


def test_two_workers_each_run_with_its_own_log_and_share_of_the_cores(standin):
    runs, folder = _plan(standin, [0, 3, 4, 5, 6])
    assert runner.run_study(runs, str(folder), sys.executable, log=lambda line: None,
                            parallel=2) == 0
    assert len({_pid(folder, seed) for seed in (0, 3, 4, 5, 6)}) == 2  # two workers, reused
    for seed in (0, 3, 4, 5, 6):
        log = (folder / processes.LOGS / f"joint-seed{seed}.log").read_text()
        assert log == f"run {seed} threads {processes.threads_per_run(2)}\n"


def test_a_signal_stops_every_running_run_and_the_rerun_finishes_them(standin):
    runs, folder = _plan(standin, [0, 3, 4])
    script = (f"import sys; sys.path.insert(0, {str(standin)!r}); import test_helper;"
              f"sys.exit(test_helper.study())")
    (standin / "test_helper.py").write_text(textwrap.dedent(f"""\
        import sys
        from mtl_keras.studies import runner
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_workers import _plan

        def study():
            import pathlib
            runs, folder = _plan(pathlib.Path({str(standin)!r}), [0, 3, 4])
            return runner.run_study(runs, str(folder), sys.executable, parallel=2)
        """))
    study = subprocess.Popen([sys.executable, "-c", script],  # noqa: S603
                             env={**os.environ, "STANDIN_SECONDS": "60"})
    try:
        assert helpers.terminate_once_started(
            study, [folder / f"joint-seed{seed}" for seed in (0, 3)]) == 143
    finally:
        study.kill()  # a study that did not stop leaves nothing running
    for seed in (0, 3):  # both running runs were asked to stop; the third never started
        assert (folder / f"joint-seed{seed}" / "stopped").read_text() == str(signal.SIGTERM)
        assert float((folder / f"joint-seed{seed}" / records.ATTEMPTS).read_text()) > 0
        assert _ended(_pid(folder, seed))
    assert not (folder / "joint-seed4").exists()
    assert runner.run_study(runs, str(folder), sys.executable, log=lambda line: None,
                            parallel=2) == 0
    assert all(planned.finished for planned in runs)
