"""One worker of a two-worker loopback cluster, started by tests/training/test_replicas.py with
TF_CONFIG set: `python tests/cluster_worker.py OUT` writes to OUT (an .npz), under the
run's strategy (`--strategy=multi_worker`):

- `ids_<step>`: the example ids this worker trains on in each step of one epoch of the
  training pipeline (`pipeline.make_dataset`, as a run builds it) over EXAMPLES examples
  whose only label is their id, at the global BATCH_SIZE, as Keras' fit distributes it;
- for each method of METHODS, one step of `fit` as a run trains (`train_one_step`): the
  weights after it (`<method>_weight_<index>`) and its logs (`<method>_log_<name>`).

The test trains the same step in one process, with `train_one_step` under the default
strategy.
"""

import sys

import keras
import numpy as np

from mtl_keras import startup
from mtl_keras import tasks as tasks_lib
from mtl_keras.data import pipeline, source
from mtl_keras.models import build
from mtl_keras.training import strategy as strategy_lib

EXAMPLES = 64
BATCH_SIZE = 16  # global: 4 steps per epoch, 8 examples per worker
METHODS = ("equal", "mgda")  # a loss-level method and one that weighs the Gramian


def split():
    """EXAMPLES 8×8 images, two heads; `coarse` is known for about 40 % of them, so that
    the two halves of a batch hold different counts of its known labels."""
    rng = np.random.default_rng(0)
    labels = {"fine": rng.integers(0, 10, EXAMPLES), "coarse": rng.integers(0, 4, EXAMPLES)}
    masks = {"fine": np.ones(EXAMPLES, np.float32),
             "coarse": (rng.random(EXAMPLES) < 0.4).astype(np.float32)}
    return source.Split(rng.integers(0, 256, (EXAMPLES, 8, 8, 3), dtype=np.uint8), labels, masks)


def _initial_weights(model):
    """Weights drawn here (scaled by each kernel's fan-in), the same in every process."""
    rng = np.random.default_rng(1)
    return [rng.normal(0.0, 1.0 / np.sqrt(np.prod(w.shape[:-1])) if w.ndim > 1 else 0.1,
                       w.shape).astype(np.float32) for w in model.get_weights()]


def train_one_step(strategy, method):
    """One step of `fit` under `strategy`, on the first global batch of the seeded and
    augmented training pipeline of `split()`.

    Returns:
      (the model's weights after the step, {log name: the step's value}).
    """
    keras.utils.set_random_seed(0)  # the shuffle's and augmentation's seeds include it
    tasks = [tasks_lib.Task("fine", 10), tasks_lib.Task("coarse", 4)]
    with strategy.scope():
        model = build.build_model(tasks, "simple_cnn", (8, 8, 3), [0.5] * 3, [0.25] * 3, 0.9)
        model.set_weights(_initial_weights(model))
        model.compile(optimizer=keras.optimizers.SGD(0.1), weighting=method)
    dataset = pipeline.make_dataset(split(), BATCH_SIZE, training=True, seed=0, augment=True,
                                    deterministic=True)
    history = model.fit(dataset.repeat(), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    return model.get_weights(), {name: values[0] for name, values in history.history.items()}


def _ids(strategy):
    """The example ids this worker trains on in each step of one epoch."""
    ids = source.Split(np.zeros((EXAMPLES, 4, 4, 3), np.uint8), {"id": np.arange(EXAMPLES)})
    dataset = pipeline.make_dataset(ids, BATCH_SIZE, training=True, seed=0, augment=False)
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    seen = {}
    for step in range(EXAMPLES // BATCH_SIZE):
        _, labels = next(batches)
        local = strategy.experimental_local_results(labels["id"])
        seen[f"ids_{step}"] = np.concatenate([part.numpy() for part in local])
    return seen


def main(out):
    startup.start_tensorflow_quietly()
    strategy = strategy_lib.make_strategy("multi_worker")
    arrays = _ids(strategy)
    for method in METHODS:
        weights, logs = train_one_step(strategy, method)
        arrays.update({f"{method}_weight_{index}": value for index, value in enumerate(weights)})
        arrays.update({f"{method}_log_{name}": value for name, value in logs.items()})
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
