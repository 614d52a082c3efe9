"""A study's runs N at a time (--parallel): never more than N at once, each with its share of
the cores and its own log, and a signal stops them all with their state saved. A stand-in
for `python -m mtl_keras.run` sleeps instead of training."""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import helpers

from mtl_keras import config as config_lib
from mtl_keras.studies import planning
from mtl_keras.studies import processes
from mtl_keras.studies import records
from mtl_keras.studies import runner

# Writes when it started and ended, the threads it was given, then a finished run's files;
# on SIGINT/SIGTERM it writes "stopped" and exits 130/143 as a run does.
SLEEPING_RUN = textwrap.dedent("""\
    #!{python}
    import json, os, signal, sys, time
    arguments = dict(a[2:].split("=", 1) for a in sys.argv[3:])
    workdir = arguments["workdir"]
    os.makedirs(workdir, exist_ok=True)
    json.dump({{"protocol": "joint", "seed": int(arguments["seed"])}},
              open(os.path.join(workdir, "config.json"), "w"))
    def stop(number, frame):
        open(os.path.join(workdir, "stopped"), "w").write(str(number))
        sys.exit(130 if number == signal.SIGINT else 143)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("threads", os.environ.get("TF_NUM_INTRAOP_THREADS"), flush=True)
    start = time.time()
    time.sleep({seconds})
    open(os.path.join(workdir, "flags.txt"), "w").write("--protocol=joint\\n--seed=" + arguments["seed"] + "\\n")
    json.dump({{"heads": {{"a": {{"accuracy": 0.5}}}}, "span": [start, time.time()]}},
              open(os.path.join(workdir, "metrics.json"), "w"))
""")


def _study(tmp_path, seconds, seeds):
    fake = tmp_path / "fake_python"
    fake.write_text(SLEEPING_RUN.format(python=sys.executable, seconds=seconds))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    flagfile = tmp_path / "joint.flags"
    flagfile.write_text("--dataset=x\n--protocol=joint\n")
    folder = tmp_path / "study"
    runs = planning.plan([(str(flagfile), config_lib.Config())], seeds, str(folder), None)
    return runs, str(fake), folder


def test_parallel_runs_overlap_two_at_a_time_each_with_its_log_and_share(tmp_path):
    runs, fake, folder = _study(tmp_path, seconds=1.0, seeds=[0, 1, 2, 3, 4])
    lines = []
    assert runner.run_study(runs, str(folder), fake, log=lines.append, parallel=2,
                            reuse_process=False) == 0
    spans = [json.loads((folder / f"joint-seed{seed}" / "metrics.json").read_text())["span"]
             for seed in range(5)]
    at_once = [sum(begin <= moment < end for begin, end in spans)
               for moment in (begin + 0.01 for begin, _ in spans)]
    assert max(at_once) == 2  # overlapping, and never three
    total = max(end for _, end in spans) - min(begin for begin, _ in spans)
    assert total < 4.5  # five one-second runs, two at a time: about 3 s, not 5
    threads = str(processes.threads_per_run(2))
    for seed in range(5):
        log = (folder / processes.LOGS / f"joint-seed{seed}.log").read_text()
        assert f"threads {threads}" in log
        record = json.loads((folder / f"joint-seed{seed}" / "study_run.json").read_text())
        assert 1.0 <= record["process_seconds"] < 4.0
    assert (folder / "comparison.md").exists()
    assert sum("run " in line and " of 5: " in line for line in lines) == 5


def test_one_at_a_time_runs_print_to_the_study_and_take_every_core(tmp_path, capfd):
    runs, fake, folder = _study(tmp_path, seconds=0.0, seeds=[0])
    assert runner.run_study(runs, str(folder), fake, log=lambda line: None,
                            reuse_process=False) == 0
    assert "threads None" in capfd.readouterr().out  # TensorFlow's own default
    assert not (folder / processes.LOGS).exists()


def test_a_study_trains_a_run_per_usable_core_at_most_four_and_one_beside_a_gpu(monkeypatch,
                                                                                tmp_path):
    monkeypatch.setattr(processes, "NVIDIA_GPUS", str(tmp_path / "no-such-folder"))
    for cores, expected in ((1, 1), (2, 2), (3, 3), (4, 4), (64, 4)):
        monkeypatch.setattr(processes, "usable_cores", lambda cores=cores: cores)
        assert processes.default_parallel() == expected, cores
        assert processes.threads_per_run(expected) == max(1, cores // expected)
    (tmp_path / "gpus" / "0000:00:04.0").mkdir(parents=True)
    monkeypatch.setattr(processes, "NVIDIA_GPUS", str(tmp_path / "gpus"))
    assert processes.default_parallel() == 1
    (tmp_path / "gpus" / "0000:00:04.0").rmdir()  # the driver without a GPU
    assert processes.default_parallel() == 4


def test_a_study_without_parallel_trains_the_machines_number_at_once(monkeypatch, tmp_path):
    monkeypatch.setattr(processes, "default_parallel", lambda: 3)
    _, fake, folder = _study(tmp_path, seconds=0.0, seeds=[0])
    flagfile = tmp_path / "joint.flags"
    flagfile.write_text("--synthetic\n--trunk=simple_cnn\n")
    lines = []
    assert runner.study([str(flagfile)], [0, 1, 2], str(folder), python=fake, log=lines.append,
                        reuse=False, reuse_process=False) == 0
    assert lines[0].endswith(", 3 at a time (--parallel)"), lines[0]
    for seed in range(3):  # each its own log, as with --parallel=3
        assert (folder / processes.LOGS / f"joint-seed{seed}.log").exists()
    # A cluster's runs share its TF_CONFIG, its ports: one at a time.
    flagfile.write_text("--synthetic\n--trunk=simple_cnn\n--strategy=multi_worker\n")
    lines.clear()
    assert runner.study([str(flagfile)], [0], str(tmp_path / "cluster"), python=fake,
                        log=lines.append, reuse=False, reuse_process=False) == 0
    assert "at a time" not in lines[0] and not (tmp_path / "cluster" / processes.LOGS).exists()


def test_a_signal_stops_every_parallel_run_and_the_rerun_finishes_them(tmp_path):
    runs, fake, folder = _study(tmp_path, seconds=60.0, seeds=[0, 1, 2])
    script = (f"import sys; from mtl_keras.studies import planning, runner; from mtl_keras import config;"
              f"runs = planning.plan([({str(tmp_path / 'joint.flags')!r}, config.Config())], "
              f"[0, 1, 2], {str(folder)!r}, None);"
              f"sys.exit(runner.run_study(runs, {str(folder)!r}, {fake!r}, parallel=2, reuse_process=False))")
    study = subprocess.Popen([sys.executable, "-c", script],  # noqa: S603
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert helpers.terminate_once_started(
        study, [folder / f"joint-seed{seed}" for seed in (0, 1)]) == 143
    for seed in (0, 1):  # both running runs were asked to stop; the third never started
        assert (folder / f"joint-seed{seed}" / "stopped").read_text() == str(signal.SIGTERM)
        assert float((folder / f"joint-seed{seed}" / records.ATTEMPTS).read_text()) > 0
    assert not (folder / "joint-seed2").exists()
    runs, fake, folder = _study(tmp_path, seconds=0.0, seeds=[0, 1, 2])
    assert runner.run_study(runs, str(folder), fake, log=lambda line: None, parallel=2,
                            reuse_process=False) == 0
    assert all(planned.finished for planned in runs)
