"""Accuracy against minutes: each setting's score on one task against its wall time per run.

    python benchmarks/frontier.py FOLDER [FOLDER ...] --task=fine [--metric=accuracy] \
        [--out=PREFIX] [--title=TEXT] [--goal=SCORE] [--budget=MINUTES]

FOLDER: study folders, folders of runs, or runs, as `mtl-keras compare` takes them; the runs
of one command but the seed form a setting (`mtl_keras.studies.comparison`). Prints, and
writes to PREFIX.md, per setting: its runs and seeds, the task's metric (mean ± std over the
runs), the wall minutes per run (mean ± std: the whole process as the study recorded it,
else metrics.json's wall_seconds) and whether it is on the frontier (no other setting scores
at least as well in less time); PREFIX.png draws the same, the frontier joined by a line,
and the goal's score and the time budget, when given, as dashed lines.
"""

import os
import statistics
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras import fileio  # noqa: E402
from mtl_keras import heads  # noqa: E402
from mtl_keras.studies import comparison  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("task", None, "The task (head) whose score is compared.")
flags.DEFINE_string("metric", "accuracy", "The task's metric (lower is better for mae, rmse).")
flags.DEFINE_string("out", "frontier", "Writes PREFIX.md and PREFIX.png.")
flags.DEFINE_string("title", "", "The chart's title.")
flags.DEFINE_float("goal", None, "A score to reach, drawn as a dashed horizontal line.")
flags.DEFINE_float("budget", None, "Minutes per run allowed, drawn as a dashed vertical line.")


def _spread(values):
    mean, std = comparison.mean_std(values)
    return mean, std or 0.0


def points(settings, task, metric):
    """[(label, runs, seeds, (score mean, std), (minutes mean, std))] of the settings whose
    runs scored `metric` on `task`, fastest first."""
    found = []
    for setting in settings:
        runs = [run for run in setting.runs
                if run.scores.get(task, {}).get(metric) is not None and run.seconds]
        if runs:
            found.append((setting.label, len(runs), sorted({run.seed for run in runs}),
                          _spread([run.scores[task][metric] for run in runs]),
                          _spread([run.seconds / 60.0 for run in runs])))
    return sorted(found, key=lambda point: point[4][0])


def frontier(found, lower_is_better=False):
    """The labels of the points that no faster point matches or beats."""
    best, labels = None, set()
    for label, _, _, (score, _), _ in found:
        better = best is None or (score < best if lower_is_better else score > best)
        if better:
            best = score
            labels.add(label)
    return labels


def markdown(found, on_frontier, task, metric):
    lines = [f"| setting | runs | seeds | {task} {metric} | minutes per run | frontier |",
             "|---|---|---|---|---|---|"]
    for label, runs, seeds, (score, score_std), (minutes, minutes_std) in found:
        lines.append(f"| {label} | {runs} | {','.join(str(seed) for seed in seeds)} | "
                     f"{score:.4f} ± {score_std:.4f} | {minutes:.1f} ± {minutes_std:.1f} | "
                     f"{'yes' if label in on_frontier else ''} |")
    return "\n".join(lines) + "\n"


def chart(found, on_frontier, task, metric, path, title, goal=None, budget=None):
    import matplotlib  # noqa: PLC0415  (only the chart needs it)

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    figure, axes = pyplot.subplots(figsize=(9, 5.5))
    for label, _, _, (score, score_std), (minutes, minutes_std) in found:
        axes.errorbar(minutes, score, xerr=minutes_std, yerr=score_std, fmt="o", capsize=3,
                      color="tab:blue" if label in on_frontier else "tab:gray")
        axes.annotate(label, (minutes, score), textcoords="offset points", xytext=(5, 4),
                      fontsize=7)
    line = [(point[4][0], point[3][0]) for point in found if point[0] in on_frontier]
    axes.plot([x for x, _ in line], [y for _, y in line], color="tab:blue", linewidth=1,
              drawstyle="steps-post")
    if goal is not None:
        axes.axhline(goal, color="tab:red", linestyle="--", linewidth=1,
                     label=f"goal: {task} {metric} {goal:g}")
    if budget is not None:
        axes.axvline(budget, color="tab:orange", linestyle="--", linewidth=1,
                     label=f"budget: {budget:g} minutes per run")
    if goal is not None or budget is not None:
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlabel("wall minutes per run (mean ± std)")
    axes.set_ylabel(f"{task} {metric} (mean ± std over seeds)")
    axes.set_title(title or f"{task} {metric} against wall time")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    with fileio.atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    pyplot.close(figure)


def main(argv):
    folders = argv[1:]
    if not folders or not FLAGS.task:
        print("usage: python benchmarks/frontier.py FOLDER [FOLDER ...] --task=NAME "
              "[--metric=accuracy] [--out=PREFIX]", file=sys.stderr)
        return 2
    runs, _ = comparison.find_runs(folders)
    found = points(comparison.group(runs), FLAGS.task, FLAGS.metric)
    if not found:
        print(f"error: no finished run in {', '.join(folders)} scored {FLAGS.metric} on "
              f"{FLAGS.task}; give the task and metric of metrics.json.", file=sys.stderr)
        return 2
    on_frontier = frontier(found, heads.lower_is_better(FLAGS.metric))
    text = markdown(found, on_frontier, FLAGS.task, FLAGS.metric)
    print(text, end="")
    fileio.write_text(f"{FLAGS.out}.md", text)
    chart(found, on_frontier, FLAGS.task, FLAGS.metric, f"{FLAGS.out}.png", FLAGS.title,
          FLAGS.goal, FLAGS.budget)
    print(f"written: {FLAGS.out}.md, {FLAGS.out}.png; {statistics.fmean(len(p[2]) for p in found):.1f} "
          f"seeds per setting on average")
    return 0


if __name__ == "__main__":
    app.run(main)
