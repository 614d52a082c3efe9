"""The report a run leaves in its folder: report.png (a title naming the run and its data;
per head, its training and validation curves and, for a head that puts each image in one
class, its confusion matrix on the test split with counts, or its most confused pairs when
it has many classes; the test metrics) and report.md (the same numbers as tables, with the
command that reproduces the run)."""

import datetime
import os

import numpy as np

from mtl_keras import fileio
from mtl_keras.reporting import figures

plt = figures.plt
# Above this many classes a confusion matrix's counts no longer fit: its most confused
# pairs are drawn instead.
MATRIX_CLASSES = 12


def significant(value, digits=4):
    """`value` rounded to `digits` significant digits, as text ("-" for None): 0.9123,
    1.000, 3.648, 1.235e+04."""
    return "-" if value is None else f"{float(value):#.{digits}g}"


def heads_text(heads):
    """Per-head test metrics on one line: "fine: accuracy 0.9123, top5_accuracy 0.9987; ..."."""
    return "; ".join(f"{head}: " + ", ".join(f"{name} {significant(value)}"
                                             for name, value in values.items() if name != "examples")
                     for head, values in heads.items())


def main_metric(task):
    """The metric a head's curves show: accuracy, else MAE, else its loss."""
    return next((name for name in ("accuracy", "mae") if name in task.metric_names), "loss")


def _curves(axes, history, key, title, kept=None):
    """Training and validation curves of log `key`; `kept`: the epoch whose weights early
    stopping kept, marked."""
    epochs = np.arange(1, len(history) + 1)
    if kept:
        axes.axvline(kept, color="gray", linestyle=":", label=f"kept (epoch {kept})")
    shown = []
    for prefix, label in (("", "training"), ("val_", "validation")):
        values = [logs.get(prefix + key) for logs in history]
        if any(value is not None for value in values):
            axes.plot(epochs, [np.nan if v is None else v for v in values], marker=".", label=label)
            shown.append(prefix)
    if "val_" not in shown and history:
        title += " (no validation split)"
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("epoch", fontsize=8)
    axes.xaxis.set_major_locator(figures.matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    if shown or kept:
        axes.legend(fontsize=7)


def metric_lines(results):
    """The test metrics as "head: metric value, ..." lines (4 significant digits)."""
    lines = [f"{head}: " + ", ".join(f"{name} {significant(value)}"
                                     for name, value in values.items() if name != "examples")
             for head, values in results["heads"].items()]
    lines += [f"{name}: {significant(value)}" for name, value in results.items()
              if name.endswith(("_consistency", "_accuracy")) and isinstance(value, float)]
    return lines


def stopping_text(results):
    """"trained 12 of 30 epochs: early stopping (patience 3) kept epoch 9, val_fine_accuracy
    0.9123", or the number of epochs trained."""
    stopping = results.get("early_stopping") or {}
    trained = results.get("epochs_trained", results.get("epochs"))
    text = f"trained {trained} of {results.get('epochs')} epochs"
    if stopping.get("stopped_epoch"):
        text += (f": early stopping (patience {stopping['patience']}) kept epoch "
                 f"{stopping['best_epoch']}, {stopping['monitor']} {significant(stopping['best'])}")
    elif stopping:
        text += f"; early stopping (patience {stopping['patience']}) not reached"
    return text


def title(workdir, results, when=None):
    """The report's title: the run's folder name, its dataset, synthetic or real, the date."""
    when = when or datetime.date.today()
    kind = "synthetic (made-up) images" if results.get("synthetic") else "real images"
    return (f"{os.path.basename(os.path.normpath(workdir))}: {results.get('dataset')}, "
            f"{kind}, {when:%Y-%m-%d}")


def _head_figure(axes, task, confusion, results):
    """The third panel of a head's row: its confusion matrix, its most confused pairs, or
    (no classes) its test metrics."""
    heads = results["heads"].get(task.name, {})
    if confusion is None:
        axes.axis("off")
        axes.text(0, 0.8, f"{task.name}, test split\n" + "\n".join(
            f"{name} {significant(value)}" for name, value in heads.items() if name != "examples"),
            va="top", fontsize=9, family="monospace", transform=axes.transAxes)
        return
    matrix, names = confusion
    where = f"{task.name}, test split"
    if len(matrix) > MATRIX_CLASSES:
        figures.draw_most_confused(axes, matrix, names, where)
    else:
        figures.draw_confusion(axes, matrix, names, where, counts=True)


def write_png(path, tasks, history, results, confusions, heading=""):
    """Draws report.png.

    Args:
      confusions: {head: (matrix, class names)} on the test split, for the heads that put
        each image in one class.
      heading: the title (`title`).
    """
    rows = len(tasks)
    height = 3.3 if max((len(matrix) for matrix, _ in confusions.values()), default=0) <= 6 else 4.2
    figure = plt.figure(figsize=(16, height * rows + 1.8), dpi=100)
    grid = figure.add_gridspec(rows + 1, 3, height_ratios=[height] * rows + [1.2],
                               width_ratios=[1, 1, 1.2])
    stopping = results.get("early_stopping") or {}
    kept = stopping.get("best_epoch") if stopping.get("stopped_epoch") else None
    for row, task in enumerate(tasks):
        _curves(figure.add_subplot(grid[row, 0]), history, f"{task.name}_loss",
                f"{task.name}: loss", kept)
        metric = main_metric(task)
        _curves(figure.add_subplot(grid[row, 1]), history, f"{task.name}_{metric}",
                f"{task.name}: {metric}", kept)
        _head_figure(figure.add_subplot(grid[row, 2]), task, confusions.get(task.name), results)
    text = figure.add_subplot(grid[rows, :])
    text.axis("off")
    text.text(0, 1, f"Test split; {stopping_text(results)}\n" + "\n".join(metric_lines(results)),
              va="top", fontsize=9, family="monospace", transform=text.transAxes)
    if heading:
        figure.suptitle(heading, fontsize=12, fontweight="bold")
    # Room for the title: tight_layout does not count it.
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.4 / figure.get_figheight()))
    with fileio.atomic_path(path) as temporary:
        with open(temporary, "wb") as output:
            output.write(figures.png(figure))


def markdown(command, results, history):
    """report.md's text."""
    names = sorted({name for values in results["heads"].values() for name in values})
    lines = ["# Run report", "", "Reproduce it:", "", "```sh", command, "```", "",
             "## Test split", "", "| head | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]
    for head, values in results["heads"].items():
        cells = [values.get(name) for name in names]
        lines.append(f"| {head} | " + " | ".join("" if v is None else significant(v)
                                                 if isinstance(v, float) else str(v)
                                                 for v in cells) + " |")
    extra = [line for line in metric_lines(results) if not line.split(":")[0] in results["heads"]]
    lines += ["", *[f"- {line}" for line in extra], "",
              f"Epochs: {stopping_text(results)}; wall time {results['wall_seconds']} s; "
              f"test views: {results.get('test_views', 1)}.", ""]
    if history:
        lines += ["## Last epoch", "", "| log | value |", "|---|---|"]
        lines += [f"| {key} | {value:.4g} |" for key, value in sorted(history[-1].items())
                  if value is not None]
    return "\n".join(lines) + "\n"


def write(workdir, tasks, history, results, confusions):
    """Writes report.png and report.md into `workdir`; `confusions` as for `write_png`."""
    command = (f"python -m mtl_keras.run --flagfile={os.path.join(workdir, 'flags.txt')} "
               f"--workdir=NEW_FOLDER")
    write_png(os.path.join(workdir, "report.png"), tasks, history, results, confusions,
              title(workdir, results))
    fileio.write_text(os.path.join(workdir, "report.md"), markdown(command, results, history))
