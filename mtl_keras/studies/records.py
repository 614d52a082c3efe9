"""A study's record of each run it trains: study_run.json, written beside a finished run.

The record holds the run's command line, its wall time (`process_seconds`: from the start
of each attempt to its exit status, in a study's worker or in a process of its own, with
that process's start-up when it was started for the run; summed over the attempts that
resumed it), the machine, the versions of Python and of the packages whose
arithmetic it ran (`versions`) and the git commit of the code of every attempt (`commits`,
in order, "+changes" after one whose tree differed from it; "unknown" for an attempt the study
did not start or code outside git; and `commit`, the last one's).
Between attempts an unfinished run's folder keeps the wall time and the commits so far in
hidden files, which a run's folder may hold before it ends.
"""

import importlib.metadata
import os
import platform
import shlex
import subprocess
import time

from mtl_keras import fileio
from mtl_keras.studies import comparison

ATTEMPTS = ".study_seconds"  # hidden: a run's folder may hold no other file before it ends
COMMITS = ".study_commits"  # the commit of each attempt so far, one a line
UNKNOWN = "unknown"  # the code of an attempt that the study did not start
PACKAGES = ("tensorflow", "keras", "numpy")


def versions():
    """{"python": ..., and each of `PACKAGES` installed: its version}."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def machine():
    """The CPU's model name and core count, and the versions that matter."""
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    packages = [f"{name} {version}" for name, version in versions().items()
                if name in ("tensorflow", "keras")]
    return f"{cpu}, {os.cpu_count()} cores, {', '.join(packages)}"


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


def _read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as lines:
        return [line.strip() for line in lines if line.strip()]


class Attempt:
    """One process of a run, from its start (construction) to `end`."""

    def __init__(self, workdir):
        self.workdir, self.start, self.code = workdir, time.perf_counter(), commit()
        self.commits = _read_lines(os.path.join(workdir, COMMITS))
        if not self.commits and os.path.exists(os.path.join(workdir, "config.json")):
            self.commits = [UNKNOWN]  # the folder holds a run that no attempt of ours started
        self.commits.append(self.code or UNKNOWN)

    def seconds(self):
        """The wall time of this attempt and the earlier ones."""
        earlier = _read_lines(os.path.join(self.workdir, ATTEMPTS))
        return float(earlier[0] if earlier else 0) + time.perf_counter() - self.start

    def end(self, command, finished):
        """Writes study_run.json when the run is `finished` (its hidden files then removed),
        else, when its folder exists, the hidden files the next attempt adds to."""
        seconds = self.seconds()
        if finished:
            fileio.write_json(os.path.join(self.workdir, comparison.STUDY_RECORD), {
                "command": command[1:], "command_line": shlex.join(command),
                "process_seconds": round(seconds, 1), "machine": machine(),
                "versions": versions(), "commit": self.code, "commits": _distinct(self.commits)})
            for name in (ATTEMPTS, COMMITS):
                if os.path.exists(os.path.join(self.workdir, name)):
                    os.remove(os.path.join(self.workdir, name))
        elif os.path.isdir(self.workdir):
            fileio.write_text(os.path.join(self.workdir, ATTEMPTS), f"{seconds:.1f}")
            fileio.write_text(os.path.join(self.workdir, COMMITS), "\n".join(self.commits) + "\n")


def _distinct(commits):
    """The commits in order, each repeat of the one before dropped."""
    return [code for index, code in enumerate(commits) if not index or code != commits[index - 1]]
