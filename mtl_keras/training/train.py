"""prepare() checks a run's inputs and loads its data; train_and_evaluate() runs it.

The split lets the entry point refuse bad input before anything is written to the
workdir: every check that can fail on user input happens in prepare().
"""

import dataclasses
import json
import os
import re
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import size_rule
from mtl_keras.data import pipeline
from mtl_keras.data import source
from mtl_keras.models import build
from mtl_keras.models import trunks
from mtl_keras.reporting import metrics as metrics_lib
from mtl_keras.training import callbacks as callbacks_lib
from mtl_keras.training import compile as compile_lib
from mtl_keras.training import optimizers
from mtl_keras.training import strategy as strategy_lib


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A checked run: its config, strategy, data, resolved loss weights and output folder.

    `workdir` is where this process writes: the run's folder, or under the multi-worker
    strategy, for every worker but the chief, a `worker-N` folder inside it.
    """

    config: object
    strategy: object
    data: source.DataSource
    loss_weights: dict
    workdir: str

    @property
    def steps_per_epoch(self):
        """Training steps per epoch (the last partial batch is dropped)."""
        return len(self.data.train) // self.config.batch_size


def check_workdir(workdir, ignore=()):
    """Raises UserError when `workdir` already holds files (but those named in `ignore`):
    a run never overwrites another."""
    if os.path.isdir(workdir) and set(os.listdir(workdir)) - set(ignore):
        raise errors.UserError(
            f"--workdir={workdir} already holds files; pass a new --workdir or remove that one.")


def _process_workdir(workdir, strategy):
    """The folder this process writes to, checked: see `Experiment.workdir`."""
    worker = strategy_lib.worker_name(strategy)
    if worker:
        workdir = os.path.join(workdir, worker)
        check_workdir(workdir)
    else:  # the other workers may already have made their folders inside it
        check_workdir(workdir, ignore=[name for name in _listdir(workdir)
                                       if re.fullmatch(r"(worker|chief)-\d+", name)])
    return workdir


def _listdir(folder):
    return os.listdir(folder) if os.path.isdir(folder) else []


def prepare(config, workdir):
    """Checks the config against the machine and the data, and loads the data.

    Writes nothing. Raises UserError for any problem with the user's input.
    """
    if config.strategy == "multi_worker" and not config.workdir:
        raise errors.UserError("--strategy=multi_worker needs --workdir: give every worker the "
                               "same folder on storage they share.")
    # The multi-worker strategy must be made before anything else starts TensorFlow.
    strategy = strategy_lib.make_strategy(config.strategy)
    workdir = _process_workdir(workdir, strategy)
    trunks.TRUNKS.get(config.trunk)  # an unknown trunk fails here, not after files are written
    data = data_lib.load(config)
    config = size_rule.apply(config, data)  # the settings left to the dataset's size
    strategy_lib.check_batch_size(config.batch_size, strategy)
    data = dataclasses.replace(data, tasks=compile_lib.override_losses(data.tasks, config.losses))
    loss_weights = compile_lib.resolve_loss_weights(data.tasks, config.loss_weights)
    experiment = Experiment(config, strategy, data, loss_weights, workdir)
    if experiment.steps_per_epoch < 1:
        raise errors.UserError(
            f"--batch_size={config.batch_size} is larger than the {len(data.train)} training "
            f"examples; use a smaller batch.")
    if 2 * config.test_shift >= min(data.image_shape[:2]):
        raise errors.UserError(
            f"--test_shift={config.test_shift} moves the {data.image_shape[0]}x"
            f"{data.image_shape[1]} images out of sight; use a shift below half their size.")
    return experiment


def _log(message):
    print(f"[mtl_keras] {message}", flush=True)


def build_and_compile(experiment):
    """Sets seed, determinism and precision, then builds and compiles the run's model.

    Returns:
      (model, precision policy name).
    """
    config, data = experiment.config, experiment.data
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision = strategy_lib.set_precision(config.mixed_precision)
    jit_compile = strategy_lib.resolve_jit_compile(config.jit_compile)
    mean, std = source.channel_statistics(data.train.images)
    with experiment.strategy.scope():
        model = build.build_model(data.tasks, config.trunk, data.image_shape, mean, std,
                                  config.batch_norm_momentum)
        optimizer = optimizers.make_optimizer(config, experiment.steps_per_epoch)
        compile_lib.compile_model(model, data.tasks, optimizer, experiment.loss_weights,
                                  jit_compile, config.label_smoothing)
    return model, precision


def make_datasets(experiment):
    """Returns the run's (train, validation or None, test) `tf.data` pipelines."""
    config, data = experiment.config, experiment.data

    def make(split, training):
        return pipeline.make_dataset(split, config.batch_size, training, seed=config.seed,
                                     augment=config.augment, deterministic=config.deterministic,
                                     random_erasing=config.random_erasing)

    validation = make(data.validation, False) if data.validation is not None else None
    return make(data.train, True), validation, make(data.test, False)


def train_and_evaluate(experiment):
    """Trains, evaluates on the test split and writes the run's outputs into its workdir.

    Returns:
      The metrics dict also written to `workdir/metrics.json`.
    """
    config, data, workdir = experiment.config, experiment.data, experiment.workdir
    start = time.perf_counter()
    model, precision = build_and_compile(experiment)
    _log(f"dataset={data.name}{' (synthetic)' if data.synthetic else ''} train={len(data.train)} "
         f"validation={len(data.validation) if data.validation is not None else 0} "
         f"test={len(data.test)} heads={','.join(t.name for t in data.tasks)}")
    _log(f"trunk={config.trunk} parameters={model.count_params():,} "
         f"strategy={type(experiment.strategy).__name__} "
         f"replicas={experiment.strategy.num_replicas_in_sync} "
         f"batch_size={config.batch_size} (global) jit_compile={model.jit_compile} "
         f"(asked {config.jit_compile}) precision={precision} loss_weights={experiment.loss_weights}")
    train, validation, test = make_datasets(experiment)
    monitor = callbacks_lib.best_checkpoint_monitor(data.tasks[0]) if validation is not None else None
    callbacks = callbacks_lib.make_callbacks(workdir, monitor)
    if not sys.stdout.isatty():  # Keras' progress bar is for terminals; files get lines.
        callbacks.append(callbacks_lib.ProgressLogger(config.epochs, experiment.steps_per_epoch,
                                                      config.batch_size))
    # One iterator over the repeated training set for the whole fit (each pass still
    # reshuffled and re-augmented): a new iterator per epoch can stall that epoch's first step.
    model.fit(train.repeat(), steps_per_epoch=experiment.steps_per_epoch,
              validation_data=validation, epochs=config.epochs, callbacks=callbacks,
              shuffle=False, verbose=1 if sys.stdout.isatty() else 0)
    model.save(os.path.join(workdir, "model.keras"))

    def evaluate(probabilities):
        return metrics_lib.evaluate(data.tasks, data.hierarchy, probabilities, data.test.labels,
                                    data.test.masks)

    views = pipeline.test_views(test, config.test_flip, config.test_shift)
    if len(views) > 1:
        _log(f"predicting the test split in {len(views)} views (test-time augmentation)")
    predictions = [model.predict(view, verbose=0) for view in views]
    probabilities = {name: np.mean([p[name] for p in predictions], axis=0) for name in predictions[0]}
    extra = {"heads_single_view": evaluate(predictions[0])["heads"]} if len(views) > 1 else {}
    results = {"dataset": data.name, "synthetic": data.synthetic, **evaluate(probabilities),
               "test_flip": config.test_flip, "test_shift": config.test_shift,
               "test_views": len(views), **extra,
               "epochs": config.epochs, "wall_seconds": round(time.perf_counter() - start, 1)}
    with open(os.path.join(workdir, "metrics.json"), "w", encoding="utf-8") as metrics_file:
        json.dump(results, metrics_file, indent=2)
    _log(f"test metrics: {json.dumps(results['heads'])}; written to {workdir}")
    return results
