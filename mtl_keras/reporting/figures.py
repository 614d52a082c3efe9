"""Figures of a run, drawn with matplotlib: confusion matrices, captioned prediction grids,
learning curves. Each function returns a matplotlib Figure; `png` turns one into bytes."""

import io

import matplotlib

matplotlib.use("Agg")  # files only: no screen is needed or used

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CORRECT, WRONG = "#1a7f37", "#cf222e"
CAPTION_CHARACTERS = 44  # one caption line fits under its image at this width


def confusion_matrix(labels, predicted, classes):
    """classes × classes counts: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, int), np.asarray(predicted, int)), 1)
    return matrix


def draw_confusion(axes, matrix, class_names, title, counts=False):
    """Draws `matrix` normalised per true class on `axes`; names when there are few classes;
    with `counts`, each cell's number of images (up to 20 classes)."""
    totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    shares = matrix / totals
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set_title(f"{title} (accuracy {accuracy:.3f})", fontsize=9)
    axes.set_xlabel("predicted", fontsize=8)
    axes.set_ylabel("true", fontsize=8)
    classes = len(matrix)
    if classes <= 30:  # beyond that, names would overlap: the pattern is what shows
        names = [str(name)[:14] for name in class_names] or [str(i) for i in range(classes)]
        axes.set_xticks(range(classes), names, rotation=90 if classes > 2 else 0, fontsize=7)
        axes.set_yticks(range(classes), names, fontsize=7)
    else:
        axes.set_xticks([])
        axes.set_yticks([])
    if counts and classes <= 20:
        size = 9 if classes <= 4 else 7 if classes <= 6 else 6 if classes <= 10 else 5
        for row, column in np.ndindex(matrix.shape):
            if matrix[row, column]:
                axes.text(column, row, str(matrix[row, column]), ha="center", va="center",
                          fontsize=size, color="white" if shares[row, column] > 0.5 else "black")


def most_confused(matrix, class_names, count=10):
    """The `count` largest off-diagonal cells: [(true name, predicted name, images)], most
    first (ties: by true, then predicted class)."""
    names = list(class_names) or [str(index) for index in range(len(matrix))]
    cells = [(-int(matrix[row, column]), row, column) for row, column in np.ndindex(matrix.shape)
             if row != column and matrix[row, column]]
    return [(names[row], names[column], -negative)
            for negative, row, column in sorted(cells)[:count]]


def draw_most_confused(axes, matrix, class_names, title, count=10):
    """A bar per pair of `most_confused`: "true → predicted", its number of test images."""
    pairs = most_confused(matrix, class_names, count)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set_title(f"{title}: most confused pairs (accuracy {accuracy:.3f})", fontsize=9)
    if not pairs:
        axes.axis("off")
        axes.text(0.5, 0.5, "no image confused", ha="center", transform=axes.transAxes)
        return
    labels = [f"{str(true)[:22]} → {str(guess)[:22]}" for true, guess, _ in pairs]
    values = [images for _, _, images in pairs]
    axes.barh(range(len(pairs)), values, color="#4c72b0")
    axes.set_yticks(range(len(pairs)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("test images", fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for row, value in enumerate(values):
        axes.text(value, row, f" {value}", va="center", fontsize=7)


def confusion_figure(matrix, class_names, title):
    """A figure of one confusion matrix, sized so that 20 classes stay readable."""
    size = 4.5 if len(matrix) <= 10 else 6.5
    figure, axes = plt.subplots(figsize=(size, size), dpi=100)
    draw_confusion(axes, matrix, class_names, title)
    figure.tight_layout()
    return figure


def prediction_grid(images, captions, columns=4):
    """Images with caption lines, each line (text, correct or None) coloured green or red.

    Args:
      images: N×H×W×C uint8.
      captions: per image, a list of (text, correct) pairs; correct None for no colour.
    """
    rows = int(np.ceil(len(images) / columns))
    lines = max(len(caption) for caption in captions)
    figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, (2.2 + 0.22 * lines) * rows),
                                dpi=100, squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, image, caption in zip(grid.flat, images, captions):
        axes.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray")
        for line, (text, correct) in enumerate(caption):
            color = "black" if correct is None else (CORRECT if correct else WRONG)
            text = text if len(text) <= CAPTION_CHARACTERS else text[:CAPTION_CHARACTERS - 1] + "…"
            axes.text(0.0, -0.04 - 0.11 * line, text, transform=axes.transAxes, fontsize=7,
                      color=color, va="top", fontweight="normal" if correct is not False else "bold")
    # Room under each image for its caption lines (tight_layout ignores text outside axes).
    figure.subplots_adjust(left=0.02, right=0.98, top=0.98, bottom=0.02, wspace=0.15,
                           hspace=0.12 * lines + 0.1)
    return figure


def png(figure):
    """The figure as PNG bytes; closes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
