"""The training figures of one step of `train.fit`, against numpy.

One step per epoch (the batch is the whole training split) makes the logged training
figures those of the model as it was before the step: its outputs, predicted before
`fit`, give every expected value. The validation figures are those of the model after
the step. Nothing is passed by hand: the masks come from the empty cells of the CSV,
the weights and losses from the config, as in a user's run.
"""

import numpy as np
import pytest

import expected_figures
import labelled_folder
from mtl_keras import config as config_lib
from mtl_keras.training import preparation
from mtl_keras.training import train

COUNTS = {"train": 48, "validation": 24, "test": 12}
# Unequal, and not in the heads' order or in sorted order: a weight given to another
# head, or dropped, changes the total.
WEIGHTS = {"age": 0.5, "race": 2.0, "gender": 1.25}


@pytest.fixture(scope="module")
def one_step(tmp_path_factory):
    folder = tmp_path_factory.mktemp("folder")
    rows = labelled_folder.write(folder, COUNTS)
    config = config_lib.Config(
        dataset="folder", csv=str(folder / "labels.csv"), tasks=labelled_folder.TASKS,
        image_size=8, trunk="simple_cnn", epochs=1, batch_size=COUNTS["train"],
        optimizer="adamw", learning_rate=0.01, weight_decay=0.0, schedule="constant",
        warmup_epochs=0.0, augment=False, mixed_precision="false", jit_compile="false",
        loss_weights=WEIGHTS, checkpoint_minutes=0.0)
    experiment = preparation.prepare(config, str(folder / "run"))
    model, _ = train.build_and_compile(experiment)
    data = experiment.data
    before = model.predict(data.train.images, verbose=0)
    history = train.fit(model, experiment, train.make_datasets(experiment))
    after = model.predict(data.validation.images, verbose=0)
    by_split = {split: [row for row in rows if row.split == split] for split in COUNTS}
    return {"rows": rows, "by_split": by_split, "data": data, "history": history,
            "before": before, "after": after}


def test_the_data_is_the_one_written(one_step):
    """The split column decides the splits; the masks are the empty cells."""
    data, by_split = one_step["data"], one_step["by_split"]
    for split_name, split in (("train", data.train), ("validation", data.validation),
                              ("test", data.test)):
        rows = by_split[split_name]
        assert len(split) == len(rows)
        for head in labelled_folder.HEADS:
            values, known = labelled_folder.labels(rows, head)
            np.testing.assert_array_equal(split.masks[head], known.astype(np.float32))
            np.testing.assert_allclose(np.ravel(split.labels[head])[known], values[known])


def test_training_figures_are_masked_weighted_and_in_standard_deviations(one_step):
    rows, history = one_step["by_split"]["train"], one_step["history"]
    assert len(history) == 1
    std = expected_figures.target_std(one_step["rows"])
    assert 10 < std < 25  # far from 1: a loss in years squared would be hundreds of times larger
    expected = expected_figures.head_figures(one_step["before"], rows, std)
    expected_figures.check(history[0], expected)
    assert history[0]["loss"] == pytest.approx(
        expected_figures.total_loss(expected, WEIGHTS), rel=1e-4)


def test_validation_figures_are_those_of_the_model_after_the_step(one_step):
    rows, history = one_step["by_split"]["validation"], one_step["history"]
    std = expected_figures.target_std(one_step["rows"])
    expected = expected_figures.head_figures(one_step["after"], rows, std)
    expected_figures.check(history[0], expected, prefix="val_")
    assert history[0]["val_loss"] == pytest.approx(
        expected_figures.total_loss(expected, WEIGHTS), rel=1e-4)


def test_the_example_tells_the_wrong_versions_apart(one_step):
    """The wrong versions this file guards against give figures far from the right ones
    on this data: a loss over every row (unknown ones as 0) instead of the known ones, in
    years instead of standard deviations, top-4 or top-6 instead of top-5."""
    rows, before = one_step["by_split"]["train"], one_step["before"]
    std = expected_figures.target_std(one_step["rows"])
    right = expected_figures.head_figures(before, rows, std)
    ages, known = labelled_folder.labels(rows, "age")
    assert 0.5 < known.mean() < 0.8
    over_every_row = np.mean(np.where(known, np.square((ages - before["age"][:, 0]) / std), 0))
    assert abs(over_every_row / right["age_loss"] - 1) > 0.2
    race, race_known = labelled_folder.labels(rows, "race")
    probabilities = before["race"]
    beaten_by = np.sum(probabilities > probabilities[np.arange(len(race)), race.astype(int)][:, None], 1)
    for k in (4, 6):
        assert abs(np.mean(beaten_by[race_known] < k) - right["race_top5_accuracy"]) > 0.05
