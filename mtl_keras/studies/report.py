"""The comparison of settings as Markdown (comparison.md) and as a matplotlib chart (comparison.png)."""

import os
import statistics

import numpy as np

from mtl_keras import fileio
from mtl_keras import heads
from mtl_keras.studies import comparison


def _format(pair, digits=4, signed=False):
    if pair is None:
        return "–"
    mean, std = pair
    text = f"{mean:+.{digits}f}" if signed else f"{mean:.{digits}f}"
    return f"{text} ± {std:.{digits}f}" if std is not None else f"{text} (one seed, no spread)"


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
    if setting.baseline:
        return "the baselines"
    if not setting.delta_m:
        return f"– ({setting.missing})"
    text = _format(comparison.mean_std(list(setting.delta_m.values())), 2, signed=True)
    return f"{text} ({setting.missing})" if setting.missing else text


def _summary(settings, metric):
    lines = [f"| setting | runs | seeds | Δm % | mean {metric} over tasks | wall time per run (s) "
             f"| wall time per seed, all its runs (s) | median epoch (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for setting in settings:
        per_run, per_seed = _seconds(setting)
        epoch = comparison.mean_std([run.epoch_seconds for run in setting.runs])
        lines.append(f"| {setting.label} | {len(setting.runs)} | "
                     f"{','.join(str(seed) for seed in setting.seeds)} | {_delta_text(setting)} | "
                     f"{_format(_mean_over_tasks(setting, metric))} | {_format(per_run, 0)} | "
                     f"{_format(per_seed, 0)} | {_format(epoch, 1)} |")
    return lines


def _per_task(settings):
    """One table per metric: a row per task, a column per setting."""
    tasks, metrics = [], []
    for setting in settings:
        tasks += [task for task in setting.tasks if task not in tasks]
        for run in setting.runs:
            for values in run.scores.values():
                metrics += [name for name in values if name not in metrics]
    lines = []
    for name in metrics:
        lines += ["", f"{name} per task (mean ± std over seeds):", "",
                  "| task | " + " | ".join(setting.label for setting in settings) + " |",
                  "|---|" + "---|" * len(settings)]
        for task in tasks:
            cells = [_format(comparison.mean_std(setting.scores(task, name))) for setting in settings]
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def markdown(settings, unfinished=()):
    """The comparison as Markdown: a summary table, then one table per metric (tasks × settings)."""
    machines = {run.machine for setting in settings for run in setting.runs if run.machine}
    lines = ["Δm: mean over tasks and their metrics of the signed relative change against the "
             "single-task baselines of the same seed, in % (positive: better than each task "
             "alone); mean ± std over seeds. Wall time: the whole run, start-up included; median epoch: "
             "the median of a run's epoch times (history.csv, validation included), mean ± std "
             "over runs."]
    if machines:
        lines += ["", f"Machine: {'; '.join(sorted(machines))}."]
    lines += ["", *_summary(settings, primary_metric(settings)), *_per_task(settings)]
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
                sign = -1.0 if heads.lower_is_better(metric) else 1.0
                values.append(100.0 * sign * (value - base[0]) / abs(base[0]))
        if values:
            changes[task] = statistics.fmean(values)
    return changes


def _delta_panel(axes, compared):
    pairs = [comparison.mean_std(list(setting.delta_m.values())) for setting in compared]
    axes.barh([setting.label for setting in compared], [pair[0] for pair in pairs],
              xerr=[pair[1] or 0 for pair in pairs], color="tab:blue", capsize=4)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("Δm % vs single task (mean ± std over seeds)")
    axes.invert_yaxis()


def _task_panel(axes, compared, tasks, metric):
    width = 0.8 / max(len(compared), 1)
    for position, setting in enumerate(compared):
        changes = _relative_changes(setting, metric)
        axes.bar(np.arange(len(tasks)) + position * width,
                 [changes.get(task, 0.0) for task in tasks], width, label=setting.label)
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xticks(np.arange(len(tasks)) + width * (len(compared) - 1) / 2, tasks, rotation=40,
                    ha="right", fontsize=8)
    axes.set_ylabel(f"{metric}: change vs single task (%)")
    if compared:
        axes.legend(fontsize=8)


def _time_panel(axes, settings):
    seconds = [_seconds(setting)[1] for setting in settings]
    axes.barh([setting.label for setting in settings], [pair[0] if pair else 0 for pair in seconds],
              xerr=[pair[1] or 0 if pair else 0 for pair in seconds], color="tab:gray", capsize=4)
    axes.set_xlabel("wall time per seed, all its runs (s)")
    axes.invert_yaxis()


def figure(settings, path, title=""):
    """Writes the chart: Δm per setting, each task's change against its baseline (the
    leading metric, mean over seeds), and the wall time per seed."""
    import matplotlib  # noqa: PLC0415  (imported late: only the chart needs it)

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    compared = [setting for setting in settings if setting.delta_m]
    chart, (left, middle, right) = pyplot.subplots(
        1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [1, 2.2, 1]})
    _delta_panel(left, compared)
    _task_panel(middle, compared, settings[0].tasks if settings else [], primary_metric(settings))
    _time_panel(right, settings)
    chart.suptitle(title or "settings compared with single-task baselines")
    chart.tight_layout()
    with fileio.atomic_path(path) as temporary:
        chart.savefig(temporary, dpi=110, format="png")
    pyplot.close(chart)


def write(settings, folder, unfinished=(), title=""):
    """Writes comparison.md and comparison.png into `folder`; returns the Markdown."""
    text = markdown(settings, unfinished)
    heading = f"# {title}\n\n" if title else ""
    fileio.write_text(os.path.join(folder, "comparison.md"), heading + text)
    figure(settings, os.path.join(folder, "comparison.png"), title)
    return text
