"""Runs grouped by setting, and each setting compared with its single-task baselines (Δm).

A run is a finished run's folder (its flags.txt, config.json and metrics.json). Runs
that differ only in --seed, --experiment and how they are kept (`config.KEEPING_ONLY`:
--workdir, --checkpoint_minutes, --max_loss_growth) form a setting; the single-task runs
of one command form one setting over all their --task values: the baselines. A setting's
baselines are the single-task runs whose other flags are the same as its own, the
protocol's and the method's flags aside (`config.METHOD_ONLY`: one task is trained alike
by every method).

Δm (Maninis et al. 2019; Vandenhende et al. 2021) of a run against the baselines of its
own seed, in percent: the mean over tasks of the mean over the task's metrics of
(-1)^l (M - B) / B, where l is 1 when lower is better (the head kinds say which: mae, rmse); a positive Δm is
better than training each task alone. A setting's Δm is the mean ± std of its runs'.
"""

import csv
import dataclasses
import os
import statistics

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras import heads
from mtl_keras import protocols

NOT_METRICS = frozenset({"examples"})
NOT_A_SETTING = config_lib.KEEPING_ONLY | {"seed", "experiment"}
STUDY_RECORD = "study_run.json"  # written beside a run by the study runner


@dataclasses.dataclass(frozen=True)
class Run:
    """One finished run.

    Attributes:
      path: its folder.
      flags: {flag name: flag line} of flags.txt, as given on its command line.
      config: config.json, the settings it ran with.
      scores: {task: {metric: value}}: metrics.json "tasks" (standard protocol) or "heads".
      seconds: wall time of the whole run (the study's record), else of training
        and testing (metrics.json wall_seconds).
      machine: the machine the study's record names, or "".
      epoch_seconds: the median wall time of its epochs (history.csv), or None.
    """

    path: str
    flags: dict
    config: dict
    scores: dict
    seconds: float
    machine: str = ""
    epoch_seconds: float = None

    @property
    def seed(self):
        return self.config["seed"]


@dataclasses.dataclass
class Setting:
    """Runs of one command but the seed (for baselines, also the task)."""

    label: str
    protocol: str
    runs: list
    baselines: object = None  # the Setting of its single-task baselines, or None
    baseline: bool = False  # whether its runs are baselines themselves (--protocol=single_task)
    delta_m: dict = dataclasses.field(default_factory=dict)  # seed → Δm %
    missing: str = ""  # why Δm is not given, if it is not

    @property
    def seeds(self):
        return sorted({run.seed for run in self.runs})

    @property
    def tasks(self):
        names = []
        for run in self.runs:
            names += [name for name in run.scores if name not in names]
        return names

    def scores(self, task, metric):
        """The values of `metric` of `task` over the runs (one per seed for a baseline)."""
        return [run.scores[task][metric] for run in self.runs
                if task in run.scores and run.scores[task].get(metric) is not None]


def _read_json(path, keys=()):
    """The JSON object in `path`; UserError naming the file when it is damaged (not a JSON
    object, or without `keys`)."""
    try:
        value = fileio.read_json(path)
    except ValueError:
        value = None
    if not isinstance(value, dict) or any(key not in value for key in keys):
        run = os.path.dirname(path) or "."
        raise errors.UserError(
            f"{path} is damaged (not the JSON a run writes); leave {run} out of the "
            f"comparison, or train that run again into a new --workdir.")
    return value


def read_flags(path):
    """{flag name: its line} of a flags.txt ("--noaugment" is named augment)."""
    flags = {}
    with open(path, encoding="utf-8") as flag_file:
        for line in (line.strip() for line in flag_file):
            if line.startswith("--"):
                name = line[2:].partition("=")[0]
                flags[name[2:] if "=" not in line and name.startswith("no") else name] = line
    return flags


def read_run(folder):
    """The finished run in `folder`."""
    metrics = _read_json(os.path.join(folder, "metrics.json"), keys=("heads",))
    scores = metrics.get("tasks") or metrics["heads"]
    scores = {task: {metric: value for metric, value in values.items() if metric not in NOT_METRICS}
              for task, values in scores.items()}
    record_path = os.path.join(folder, STUDY_RECORD)
    record = _read_json(record_path) if os.path.exists(record_path) else {}
    return Run(folder, read_flags(os.path.join(folder, "flags.txt")),
               _read_json(os.path.join(folder, "config.json")), scores,
               record.get("process_seconds", metrics.get("wall_seconds")), record.get("machine", ""),
               _median_epoch_seconds(os.path.join(folder, "history.csv")))


def _median_epoch_seconds(path):
    """The median of history.csv's epoch_seconds (validation included), or None."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", newline="") as history:
        values = [float(row["epoch_seconds"]) for row in csv.DictReader(history)
                  if row.get("epoch_seconds")]
    return statistics.median(values) if values else None


def find_runs(paths):
    """(finished runs, folders of unfinished ones) in `paths`: run folders or folders
    holding them at any depth, hidden folders (a run being copied in) aside."""
    finished, unfinished = [], []
    for path in paths:
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            if "metrics.json" in files and "flags.txt" in files:
                finished.append(read_run(folder))
                subfolders.clear()  # a run's own folders hold no other run
            elif "config.json" in files:
                unfinished.append(folder)
                subfolders.clear()
    return finished, unfinished


def _command(run, drop):
    """The run's flags as a hashable key, without the flags named in `drop`."""
    return tuple(sorted(line for name, line in run.flags.items() if name not in drop))


def _protocol(run):
    """The registered protocol the run trained with."""
    return protocols.get(run.config.get("protocol", "joint"))


def protocol_fields():
    """The flags that say how a run trains its heads: --protocol and every protocol's own."""
    return frozenset({"protocol"} | {flag for entry in protocols.PROTOCOLS.entries()
                                     for flag in entry.value.flags})


def group(runs):
    """The runs' settings, each with its baselines and Δm per seed."""
    settings = {}
    for run in runs:
        protocol = _protocol(run)
        drop = NOT_A_SETTING | (set(protocol.flags) if protocol.baseline else set())
        key = _command(run, drop)
        settings.setdefault(key, Setting(protocol.label(run.config),
                                         run.config.get("protocol", "joint"), [],
                                         baseline=protocol.baseline))
        settings[key].runs.append(run)
    _disambiguate(list(settings.items()))
    how = NOT_A_SETTING | protocol_fields() | config_lib.METHOD_ONLY
    baselines = {_command(setting.runs[0], how): setting
                 for setting in settings.values() if setting.baseline}
    for setting in settings.values():
        setting.runs.sort(key=lambda run: (run.seed, run.path))
        if not setting.baseline:
            setting.baselines = baselines.get(_command(setting.runs[0], how))
            compare(setting)
    return sorted(settings.values(), key=lambda s: (not s.baseline, s.label))


def _disambiguate(items):
    """Settings of the same label get the flags in which they differ appended."""
    labels = {}
    for key, setting in items:
        twins = [other_key for other_key, other in items if other.label == setting.label]
        if len(twins) > 1:
            own = set(key) - set.intersection(*(set(other_key) for other_key in twins))
            # A flag given no value (--weighting_options=) differs from a twin's value
            # without saying anything: named only when nothing else tells the two apart.
            named = {flag for flag in own if not flag.endswith("=")} or own
            labels[key] = f"{setting.label} ({' '.join(sorted(named))})"
    for key, setting in items:
        setting.label = labels.get(key, setting.label)


def delta_m(scores, baseline):
    """Δm in percent of `scores` against `baseline`, both {task: {metric: value}}.

    Metrics whose baseline is 0 or missing (null), or whose value is missing, are left
    out (a relative change from 0 has no size); a task left without metrics too.
    """
    per_task = []
    for task, metrics in scores.items():
        changes = []
        for metric, value in metrics.items():
            base = baseline.get(task, {}).get(metric)
            if value is None or base is None or base == 0:
                continue
            sign = -1.0 if heads.lower_is_better(metric) else 1.0
            changes.append(sign * (value - base) / abs(base))
        if changes:
            per_task.append(statistics.fmean(changes))
    return 100.0 * statistics.fmean(per_task) if per_task else None


def compare(setting):
    """Fills in `setting.delta_m` per seed from its baselines, or says why it cannot."""
    if setting.baselines is None:
        setting.missing = "no single-task baselines of the same flags"
        return
    lacking = []
    for run in setting.runs:
        baseline = {task: r.scores[task] for r in setting.baselines.runs if r.seed == run.seed
                    for task in r.scores}
        absent = [task for task in run.scores if task not in baseline]
        if absent:
            lacking.append(f"seed {run.seed} lacks {', '.join(absent)}")
            continue
        setting.delta_m[run.seed] = delta_m(run.scores, baseline)
    if lacking:
        setting.missing = "baselines incomplete: " + "; ".join(lacking)


def mean_std(values):
    """(mean, sample standard deviation or None for one value: no spread), or None for no
    values."""
    values = [value for value in values if value is not None]
    if not values:
        return None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None
