"""The comparison of settings as Markdown (comparison.md) and as a matplotlib chart (comparison.png)."""

import os
import statistics

import numpy as np

from mtl_keras import fileio
from mtl_keras.protocols import comparison


def _format(pair, digits=4, signed=False):
    if pair is None:
        return "–"
    mean, std = pair
    return f"{mean:+.{digits}f} ± {std:.{digits}f}" if signed else f"{mean:.{digits}f} ± {std:.{digits}f}"


def primary_metric(settings):
    """The metric the tables lead with: the first one of the first run's first task."""
    for setting in settings:
        for run in setting.runs:
            for metrics in run.scores.values():
                return next(iter(metrics), None)
    return None


def _mean_over_tasks(setting, metric):
    """(mean, std) over seeds of the mean of `metric` over the setting's tasks."""
    per_seed = {}
    for run in setting.runs:
        for values in run.scores.values():
            if values.get(metric) is not None:
                per_seed.setdefault(run.seed, []).append(values[metric])
    return comparison.mean_std([statistics.fmean(values) for values in per_seed.values()])


def _seconds(setting):
    """(seconds per run, seconds per seed: all of a seed's runs) as (mean, std) pairs."""
    per_seed = {}
    for run in setting.runs:
        per_seed.setdefault(run.seed, []).append(run.seconds or 0.0)
    return (comparison.mean_std([run.seconds for run in setting.runs]),
            comparison.mean_std([sum(values) for values in per_seed.values()]))


def _delta_text(setting):
    if setting.protocol == "single_task":
        return "the baselines"
    if not setting.delta_m:
        return f"– ({setting.missing})"
    text = _format(comparison.mean_std(list(setting.delta_m.values())), 2, signed=True)
    return f"{text} ({setting.missing})" if setting.missing else text


def markdown(settings, unfinished=()):
    """The comparison as Markdown: a summary table, then one table per metric (tasks × settings)."""
    metric = primary_metric(settings)
    machines = {run.machine for setting in settings for run in setting.runs if run.machine}
    lines = [f"Δm: mean over tasks and their metrics of the signed relative change against the "
             f"single-task baselines of the same seed, in % (positive: better than each task "
             f"alone); mean ± std over seeds. Wall time: the whole run's process."]
    if machines:
        lines += ["", f"Machine: {'; '.join(sorted(machines))}."]
    lines += ["", f"| setting | runs | seeds | Δm % | mean {metric} over tasks | wall time per run (s) "
              f"| wall time per seed, all its runs (s) |", "|---|---|---|---|---|---|---|"]
    for setting in settings:
        per_run, per_seed = _seconds(setting)
        lines.append(f"| {setting.label} | {len(setting.runs)} | "
                     f"{','.join(str(seed) for seed in setting.seeds)} | {_delta_text(setting)} | "
                     f"{_format(_mean_over_tasks(setting, metric))} | {_format(per_run, 0)} | "
                     f"{_format(per_seed, 0)} |")
    tasks = []
    for setting in settings:
        tasks += [task for task in setting.tasks if task not in tasks]
    metrics = []
    for setting in settings:
        for run in setting.runs:
            for values in run.scores.values():
                metrics += [name for name in values if name not in metrics]
    for name in metrics:
        lines += ["", f"{name} per task (mean ± std over seeds):", "",
                  "| task | " + " | ".join(setting.label for setting in settings) + " |",
                  "|---|" + "---|" * len(settings)]
        for task in tasks:
            cells = [_format(comparison.mean_std(setting.scores(task, name))) for setting in settings]
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
    if unfinished:
        lines += ["", f"Unfinished runs, left out: {', '.join(sorted(unfinished))}."]
    return "\n".join(lines) + "\n"


def _relative_changes(setting, metric):
    """{task: mean over seeds of the relative change (%) of `metric` against the baseline}."""
    changes = {}
    for task in setting.tasks:
        values = []
        for run in setting.runs:
            base = [r.scores[task].get(metric) for r in setting.baselines.runs
                    if r.seed == run.seed and task in r.scores]
            value = run.scores.get(task, {}).get(metric)
            if base and base[0] and value is not None:
                sign = -1.0 if metric in comparison.LOWER_IS_BETTER else 1.0
                values.append(100.0 * sign * (value - base[0]) / abs(base[0]))
        if values:
            changes[task] = statistics.fmean(values)
    return changes


def figure(settings, path, title=""):
    """Writes the chart: Δm per setting, each task's change against its baseline, wall time."""
    import matplotlib  # noqa: PLC0415  (imported late: only the chart needs it)

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    metric = primary_metric(settings)
    compared = [s for s in settings if s.delta_m]
    figure_, (left, middle, right) = pyplot.subplots(
        1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1, 2.2, 1]})
    labels = [s.label for s in compared]
    pairs = [comparison.mean_std(list(s.delta_m.values())) for s in compared]
    left.barh(labels, [p[0] for p in pairs], xerr=[p[1] for p in pairs], color="tab:blue", capsize=4)
    left.axvline(0, color="black", linewidth=0.8)
    left.set_xlabel("Δm % vs single task (mean ± std over seeds)")
    left.invert_yaxis()
    tasks = [task for task in (settings[0].tasks if settings else [])]
    width = 0.8 / max(len(compared), 1)
    for position, setting in enumerate(compared):
        changes = _relative_changes(setting, metric)
        middle.bar(np.arange(len(tasks)) + position * width,
                   [changes.get(task, 0.0) for task in tasks], width, label=setting.label)
    middle.axhline(0, color="black", linewidth=0.8)
    middle.set_xticks(np.arange(len(tasks)) + width * (len(compared) - 1) / 2, tasks, rotation=40,
                      ha="right", fontsize=8)
    middle.set_ylabel(f"{metric}: change vs single task (%)")
    if compared:
        middle.legend(fontsize=8)
    seconds = [_seconds(s)[1] for s in settings]
    right.barh([s.label for s in settings], [p[0] if p else 0 for p in seconds],
               xerr=[p[1] if p else 0 for p in seconds], color="tab:gray", capsize=4)
    right.set_xlabel("wall time per seed, all its runs (s)")
    right.invert_yaxis()
    figure_.suptitle(title or "settings compared with single-task baselines")
    figure_.tight_layout()
    with fileio.atomic_path(path) as temporary:
        figure_.savefig(temporary, dpi=110, format="png")
    pyplot.close(figure_)


def write(settings, folder, unfinished=(), title=""):
    """Writes comparison.md and comparison.png into `folder`; returns the Markdown."""
    text = markdown(settings, unfinished)
    heading = f"# {title}\n\n" if title else ""
    fileio.write_text(os.path.join(folder, "comparison.md"), heading + text)
    figure(settings, os.path.join(folder, "comparison.png"), title)
    return text
