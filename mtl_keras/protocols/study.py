"""A study: settings (flagfiles) × seeds, run one after another into one folder, then compared.

Each run is `python -m mtl_keras.run --flagfile=SETTING --seed=S [--task=T]
--workdir=STUDY/NAME`, named SETTING-seedS[-T]. A single-task setting without --task
becomes one run per head of its dataset. A run whose folder holds metrics.json is
finished and skipped; an unfinished one resumes from its saved state (the run's own
resume): rerunning the study's command continues where it stopped. Runs go seed by seed,
so that a study stopped early has whole seeds. Beside each finished run, study_run.json
records its command, the wall time of its processes (summed over resumed attempts), the
machine and the git commit of the code.
"""

import dataclasses
import importlib.metadata
import os
import platform
import signal
import subprocess
import time

from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras.protocols import comparison
from mtl_keras.reporting import comparison_report

ATTEMPTS = ".study_seconds"  # hidden: a run's folder may hold no other file before it ends


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of a study."""

    flagfile: str
    seed: int
    task: str
    workdir: str

    def command(self, python):
        """The command line that trains (or resumes) the run."""
        task = [f"--task={self.task}"] if self.task else []
        return [python, "-m", "mtl_keras.run", f"--flagfile={self.flagfile}", f"--seed={self.seed}",
                *task, f"--workdir={self.workdir}"]

    @property
    def finished(self):
        return os.path.exists(os.path.join(self.workdir, "metrics.json"))


def run_name(flagfile, seed, task=""):
    """SETTING-seedS[-TASK], SETTING being the flagfile's name without .flags."""
    stem = os.path.splitext(os.path.basename(flagfile))[0]
    return f"{stem}-seed{seed}" + (f"-{task}" if task else "")


def plan(settings, seeds, study_dir, task_names):
    """The study's runs, seed by seed.

    Args:
      settings: [(flagfile path, its Config)].
      seeds: the seeds.
      study_dir: the study's folder.
      task_names: function Config → the head names of its dataset, for single-task
        settings without --task.
    """
    names = [run_name(flagfile, 0) for flagfile, _ in settings]
    if len(set(names)) != len(names):
        raise errors.UserError("Two settings of the study have flagfiles of the same name; "
                               "rename one (a run's folder is named after its flagfile).")
    tasks = [task_names(config) if config.protocol == "single_task" and not config.task
             else [config.task] for _, config in settings]
    runs = []
    for seed in seeds:
        for (flagfile, _), setting_tasks in zip(settings, tasks):
            for task in setting_tasks:
                runs.append(PlannedRun(flagfile, seed, task,
                                       os.path.join(study_dir, run_name(flagfile, seed, task))))
    return runs


def machine():
    """The CPU's model name and core count, and the versions that matter."""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    versions = []
    for package in ("tensorflow", "keras"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return f"{cpu}, {os.cpu_count()} cores, {', '.join(versions)}"


def commit():
    """The git commit of the code that runs, with "+changes" when the tree differs; "" outside git."""
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=folder, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if changed.strip() else "")


def _attempt_seconds(workdir):
    path = os.path.join(workdir, ATTEMPTS)
    if not os.path.exists(path):
        return 0.0
    with open(path, encoding="utf-8") as attempts:
        return float(attempts.read() or 0)


class _Terminated(Exception):
    """SIGTERM reached the study: its run is asked to stop and save its state."""


def _raise_terminated(signal_number, frame):
    del signal_number, frame
    raise _Terminated


def run_one(planned, python, log=print):
    """Trains (or resumes) one run in a child process; returns its exit status.

    A SIGTERM or Ctrl-C to the study is passed to the run, which saves its state and
    stops; the study then stops too (status 143 or 130).
    """
    command = planned.command(python)
    log("$ " + " ".join(command[1:]))
    start = time.perf_counter()
    child = subprocess.Popen(command)  # pylint: disable=consider-using-with
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        status = child.wait()
    except (KeyboardInterrupt, _Terminated) as stop:
        child.send_signal(signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM)
        child.wait()
        status = 130 if isinstance(stop, KeyboardInterrupt) else 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    seconds = _attempt_seconds(planned.workdir) + time.perf_counter() - start
    if planned.finished:
        fileio.write_json(os.path.join(planned.workdir, comparison.STUDY_RECORD), {
            "command": command[1:], "process_seconds": round(seconds, 1), "machine": machine(),
            "commit": commit()})
        if os.path.exists(os.path.join(planned.workdir, ATTEMPTS)):
            os.remove(os.path.join(planned.workdir, ATTEMPTS))
    elif os.path.isdir(planned.workdir):
        fileio.write_text(os.path.join(planned.workdir, ATTEMPTS), f"{seconds:.1f}")
    return status


def run_study(runs, study_dir, python, title="", log=print):
    """Runs the unfinished runs one after another, then writes the comparison of every
    run in `study_dir`. Returns the exit status: 0, 1 when a run failed, or the status of
    a run stopped by a signal (the study stops with it)."""
    failed = []
    for number, planned in enumerate(runs, 1):
        if planned.finished:
            log(f"[study] {number}/{len(runs)} {os.path.basename(planned.workdir)}: finished, skipped")
            continue
        log(f"[study] {number}/{len(runs)} {os.path.basename(planned.workdir)}")
        status = run_one(planned, python, log)
        if status in (130, 143):
            log(f"[study] stopped; rerun the same command to resume from {planned.workdir}.")
            return status
        if status:
            failed.append(f"{os.path.basename(planned.workdir)} (exit status {status})")
    finished, unfinished = comparison.find_runs([study_dir])
    if finished:
        log(comparison_report.write(comparison.group(finished), study_dir, unfinished, title))
        log(f"[study] written {os.path.join(study_dir, 'comparison.md')} and comparison.png")
    if failed:
        log(f"[study] failed: {', '.join(failed)}")
    return 1 if failed else 0
