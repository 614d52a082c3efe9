"""Task sampling: the probabilities, and the tf.data sampler's frequencies over many steps."""

import numpy as np
import pytest

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import source
from mtl_keras.protocols import task_sampling

SIZES = (8, 16, 24)
TASKS = tuple(tasks_lib.Task(f"t{index}", 2) for index in range(3))


def _split():
    """Three tasks on their own images; an image's pixels hold its task's index."""
    owners = np.repeat(np.arange(3), SIZES)
    images = np.broadcast_to(owners[:, None, None, None], (len(owners), 4, 4, 1)).astype(np.uint8)
    labels = {task.name: np.zeros(len(owners), np.int64) for task in TASKS}
    masks = {task.name: (owners == index).astype(np.float32) for index, task in enumerate(TASKS)}
    return source.Split(images, labels, masks)


def _drawn_tasks(table, steps, steps_per_epoch=1000, seed=0, skip=0):
    """The task of each of `steps` batches, checking that each batch is one task's."""
    dataset = task_sampling.sampled_dataset(_split(), TASKS, table, steps_per_epoch, 4, seed,
                                            augment=False)
    drawn = []
    for images, _, masks in dataset.skip(skip).take(steps).as_numpy_iterator():
        full = [index for index, task in enumerate(TASKS) if (masks[task.name] == 1).all()]
        empty = [index for index, task in enumerate(TASKS) if (masks[task.name] == 0).all()]
        assert len(full) == 1 and len(empty) == 2, masks
        assert (images == full[0]).all()  # the batch's images are that task's own
        drawn.append(full[0])
    return np.array(drawn)


def test_probabilities_by_hand():
    np.testing.assert_allclose(task_sampling.probabilities([100, 300], "uniform"), [[0.5, 0.5]])
    np.testing.assert_allclose(task_sampling.probabilities([100, 300], "proportional"),
                               [[0.25, 0.75]])
    # Temperature 2: square roots, 10 and 17.32.
    np.testing.assert_allclose(task_sampling.probabilities([100, 300], "proportional", 2.0),
                               [[10 / 27.3205, 17.3205 / 27.3205]], rtol=1e-5)
    # Annealed over 3 epochs: alpha 1, 0.6, 0.2.
    annealed = task_sampling.probabilities([100, 300], "annealed", epochs=3)
    for row, alpha in zip(annealed, (1.0, 0.6, 0.2)):
        share = 300 ** alpha / (100 ** alpha + 300 ** alpha)
        np.testing.assert_allclose(row, [1 - share, share])


@pytest.mark.parametrize("sampling, expected", [
    ("uniform", [1 / 3, 1 / 3, 1 / 3]),
    ("proportional", [8 / 48, 16 / 48, 24 / 48]),
])
def test_the_sampler_draws_tasks_at_their_frequencies(sampling, expected):
    steps = 3000
    table = task_sampling.probabilities(SIZES, sampling, epochs=1)
    counts = np.bincount(_drawn_tasks(table, steps), minlength=3) / steps
    # Four standard deviations of a frequency over 3,000 draws: at most 0.037.
    np.testing.assert_allclose(counts, expected, atol=0.037)


def test_annealed_sampling_moves_towards_uniform_epoch_by_epoch():
    table = task_sampling.probabilities(SIZES, "annealed", epochs=3)
    drawn = _drawn_tasks(table, 6000, steps_per_epoch=2000)
    for epoch, alpha in enumerate((1.0, 0.6, 0.2)):
        weights = np.array(SIZES, float) ** alpha
        counts = np.bincount(drawn[epoch * 2000:(epoch + 1) * 2000], minlength=3) / 2000
        np.testing.assert_allclose(counts, weights / weights.sum(), atol=0.045)


def test_the_draws_are_a_seeded_function_of_the_step():
    table = task_sampling.probabilities(SIZES, "uniform")
    first = _drawn_tasks(table, 120, seed=5)
    np.testing.assert_array_equal(_drawn_tasks(table, 120, seed=5), first)
    # A resumed run skips the steps it trained: the same tasks follow.
    np.testing.assert_array_equal(_drawn_tasks(table, 70, seed=5, skip=50), first[50:])
    assert (_drawn_tasks(table, 120, seed=6) != first).any()


def test_a_task_smaller_than_the_batch_is_refused():
    data = source.DataSource("tiny", TASKS, _split(), None, _split())
    protocol = task_sampling.TaskSampling()
    protocol.check(data, config_lib.Config(batch_size=8))
    with pytest.raises(errors.UserError, match=r"t0 \(8\), t1 \(16\) have fewer"):
        protocol.check(data, config_lib.Config(batch_size=20))
