"""The report a run leaves in its folder: report.png (learning curves per head, the test
metrics, the confusion matrix of the coarsest multiclass head) and report.md (the same
numbers as tables, with the command that reproduces the run)."""

import os

import numpy as np

from mtl_keras import fileio
from mtl_keras.reporting import figures

plt = figures.plt


def coarsest_multiclass(tasks):
    """The multiclass head with the fewest classes (ties: the last), or None."""
    heads = [task for task in tasks if task.head_kind.exclusive_classes]
    return min(reversed(heads), key=lambda task: task.num_classes) if heads else None


def main_metric(task):
    """The metric a head's curves show: accuracy, else MAE, else its loss."""
    return next((name for name in ("accuracy", "mae") if name in task.metric_names), "loss")


def _curves(axes, history, key, title):
    epochs = np.arange(1, len(history) + 1)
    for prefix, label in (("", "training"), ("val_", "validation")):
        values = [logs.get(prefix + key) for logs in history]
        if any(value is not None for value in values):
            axes.plot(epochs, [np.nan if v is None else v for v in values], marker=".", label=label)
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("epoch", fontsize=8)
    axes.xaxis.set_major_locator(figures.matplotlib.ticker.MaxNLocator(integer=True))
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)


def metric_lines(results):
    """The test metrics as "head: metric value, ..." lines."""
    lines = [f"{head}: " + ", ".join(f"{name} {value:.4f}" if value is not None else f"{name} -"
                                     for name, value in values.items() if name != "examples")
             for head, values in results["heads"].items()]
    lines += [f"{name}: {value:.4f}" for name, value in results.items()
              if name.endswith(("_consistency", "_accuracy")) and isinstance(value, float)]
    return lines


def write_png(path, tasks, history, results, confusion):
    """Draws report.png. `confusion`: (head, matrix, class names) on the test split, or None."""
    rows = max(len(tasks), 2)
    figure = plt.figure(figsize=(14, 2.8 * rows + 0.6), dpi=100)
    grid = figure.add_gridspec(rows, 3, width_ratios=[1, 1, 1.25])
    for row, task in enumerate(tasks):
        _curves(figure.add_subplot(grid[row, 0]), history, f"{task.name}_loss", f"{task.name}: loss")
        metric = main_metric(task)
        _curves(figure.add_subplot(grid[row, 1]), history, f"{task.name}_{metric}",
                f"{task.name}: {metric}")
    text = figure.add_subplot(grid[rows - 1, 2])
    text.axis("off")
    text.text(0, 1, "Test split\n" + "\n".join(metric_lines(results)), va="top", fontsize=9,
              family="monospace", transform=text.transAxes)
    if confusion is not None:
        head, matrix, names = confusion
        figures.draw_confusion(figure.add_subplot(grid[0:rows - 1, 2]), matrix, names,
                               f"{head}, test split")
    figure.tight_layout()
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
        lines.append(f"| {head} | " + " | ".join("" if v is None else f"{v:.4f}" if isinstance(v, float)
                                                 else str(v) for v in cells) + " |")
    extra = [line for line in metric_lines(results) if not line.split(":")[0] in results["heads"]]
    lines += ["", *[f"- {line}" for line in extra], "",
              f"Epochs: {results['epochs']}; wall time {results['wall_seconds']} s; "
              f"test views: {results.get('test_views', 1)}.", ""]
    if history:
        lines += ["## Last epoch", "", "| log | value |", "|---|---|"]
        lines += [f"| {key} | {value:.4g} |" for key, value in sorted(history[-1].items())
                  if value is not None]
    return "\n".join(lines) + "\n"


def write(workdir, tasks, history, results, confusion):
    """Writes report.png and report.md into `workdir`."""
    command = (f"python -m mtl_keras.run --flagfile={os.path.join(workdir, 'flags.txt')} "
               f"--workdir=NEW_FOLDER")
    write_png(os.path.join(workdir, "report.png"), tasks, history, results, confusion)
    fileio.write_text(os.path.join(workdir, "report.md"), markdown(command, results, history))
