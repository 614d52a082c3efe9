"""The figures a run should log for the heads of `labelled_folder`, worked out with numpy
from the model's outputs, the labels the test wrote, and the definitions in the README:
each head averaged over its known labels only, the regression loss in standard deviations
of the known training targets, the total loss the weighted sum of the head losses."""

import numpy as np

import labelled_folder


def target_std(rows):
    """The standard deviation of the known training ages (over N, not N - 1)."""
    ages, known = labelled_folder.labels([row for row in rows if row.split == "train"], "age")
    return float(np.std(ages[known]))


def _mean(values, known):
    return float(np.sum(np.where(known, values, 0.0)) / np.sum(known))


def head_figures(outputs, rows, std, label_smoothing=0.0):
    """{log name: value} of the three heads on `rows`, whose model outputs are `outputs`."""
    figures = {}
    age, known = labelled_folder.labels(rows, "age")
    predicted = outputs["age"][:, 0].astype(np.float64)
    figures["age_loss"] = _mean(np.square((age - predicted) / std), known)
    figures["age_mae"] = _mean(np.abs(age - predicted), known)
    figures["age_rmse"] = float(np.sqrt(_mean(np.square(age - predicted), known)))

    race, known = labelled_folder.labels(rows, "race")
    race = race.astype(int)
    probabilities = outputs["race"].astype(np.float64)
    classes = probabilities.shape[1]
    targets = (1 - label_smoothing) * np.eye(classes)[race] + label_smoothing / classes
    figures["race_loss"] = _mean(-np.sum(targets * np.log(probabilities), axis=1), known)
    figures["race_accuracy"] = _mean(probabilities.argmax(1) == race, known)
    beaten_by = np.sum(probabilities > probabilities[np.arange(len(race)), race][:, None], axis=1)
    figures["race_top5_accuracy"] = _mean(beaten_by < 5, known)

    gender, known = labelled_folder.labels(rows, "gender")
    probability = outputs["gender"][:, 0].astype(np.float64)
    figures["gender_loss"] = _mean(-(gender * np.log(probability)
                                     + (1 - gender) * np.log(1 - probability)), known)
    figures["gender_accuracy"] = _mean((probability > 0.5) == (gender > 0.5), known)
    return figures


def total_loss(figures, weights):
    """The loss a run logs: the head losses weighted by `weights` ({head: weight})."""
    return sum(weight * figures[f"{head}_loss"] for head, weight in weights.items())


def check(logged, expected, prefix="", relative=1e-4):
    """Asserts that every expected figure is logged under `prefix` + its name, equal."""
    import pytest  # noqa: PLC0415

    for name, value in expected.items():
        assert logged[prefix + name] == pytest.approx(value, rel=relative, abs=1e-6), \
            f"{prefix}{name}: logged {logged[prefix + name]}, expected {value}"
