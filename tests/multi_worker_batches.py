"""One worker of a two-worker cluster (TF_CONFIG set by tests/test_replicas.py): prints, as
one JSON line, the example ids this worker trains on in each of the first steps.

`python tests/multi_worker_batches.py EXAMPLES BATCH_SIZE STEPS`: the training pipeline of
a run (`pipeline.make_dataset`) over EXAMPLES examples whose only label is their id, at the
global BATCH_SIZE, distributed as Keras' fit distributes it under the run's strategy.
"""

import json
import sys

import numpy as np

from mtl_keras import startup
from mtl_keras.data import pipeline
from mtl_keras.data import source
from mtl_keras.training import strategy as strategy_lib


def main(examples, batch_size, steps):
    startup.start_tensorflow_quietly()
    strategy = strategy_lib.make_strategy("multi_worker")
    split = source.Split(np.zeros((examples, 4, 4, 3), np.uint8), {"id": np.arange(examples)})
    dataset = pipeline.make_dataset(split, batch_size, training=True, seed=0, augment=False)
    batches = iter(strategy.experimental_distribute_dataset(dataset))
    seen = []
    for _ in range(steps):
        _, labels = next(batches)
        local = strategy.experimental_local_results(labels["id"])
        seen.append([int(value) for part in local for value in part.numpy()])
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main(*(int(argument) for argument in sys.argv[1:4]))
