"""train_and_evaluate() runs a checked experiment (`preparation.prepare`): it builds and
compiles the model, trains it (resuming a stopped run), evaluates it on the test split and
writes the run's outputs."""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from mtl_keras import fileio
from mtl_keras.data import pipeline
from mtl_keras.data import source
from mtl_keras.models import build
from mtl_keras.reporting import figures
from mtl_keras.reporting import metrics as metrics_lib
from mtl_keras.reporting import report
from mtl_keras.reporting import tensorboard
from mtl_keras.training import callbacks as callbacks_lib
from mtl_keras.training import checkpointer as checkpointer_lib
from mtl_keras.training import compile as compile_lib
from mtl_keras.training import inspection
from mtl_keras.training import optimizers
from mtl_keras.training import phases as phases_lib
from mtl_keras.training import precision as precision_lib
from mtl_keras.training import progress as progress_lib
from mtl_keras.training import run_state
from mtl_keras.training import signals
from mtl_keras.training import strategy as strategy_lib


def _log(message):
    print(f"[mtl_keras] {message}", flush=True)


def rep_grad_note(config, data):
    """What --rep_grad means for heads that never share a training image ("" otherwise).

    Each head's gradient of the shared representation is then zero on every other head's
    images: the gradients are orthogonal, so a method that acts on conflicts has none to act on.
    """
    names = [task.name for task in data.tasks]
    if not config.rep_grad or len(names) < 2 or data.train.heads_share_examples(names):
        return ""
    return (" (no training image has labels of two heads: with --rep_grad their gradients are "
            "orthogonal and never conflict; drop --rep_grad for the methods to see the "
            "shared parameters' gradients)")


def build_and_compile(experiment):
    """Sets seed, determinism and precision, then builds and compiles the run's model.

    Returns:
      (model, precision policy name).
    """
    config, data = experiment.config, experiment.data
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    precision = precision_lib.set_precision(config.mixed_precision)
    jit_compile = strategy_lib.resolve_jit_compile(config.jit_compile)
    mean, std = source.channel_statistics(data.train.images)
    with experiment.strategy.scope():
        parts = experiment.parts
        model = build.build_model(data.tasks, parts.trunk, data.image_shape, mean, std,
                                  config.batch_norm_momentum, parts.architecture)
        optimizer = optimizers.make_optimizer(config, experiment.steps_per_epoch)
        method = parts.method(model.task_names, steps_per_epoch=experiment.steps_per_epoch,
                              seed=config.seed, options=parts.method_options)
        compile_lib.compile_model(model, data.tasks, optimizer, experiment.loss_weights,
                                  jit_compile, config.label_smoothing, method, config.rep_grad)
    return model, precision


def make_datasets(experiment):
    """Returns the run's (train, validation or None, test) `tf.data` pipelines."""
    config, data = experiment.config, experiment.data

    def make(split, training):
        return pipeline.make_dataset(split, config.batch_size, training, seed=config.seed,
                                     augment=config.augment, deterministic=config.deterministic,
                                     random_erasing=config.random_erasing,
                                     flip=data.mirror_keeps_labels)

    validation = make(data.validation, False) if data.validation is not None else None
    train = experiment.parts.protocol.training_dataset(data, config, experiment.steps_per_epoch)
    return train or make(data.train, True), validation, make(data.test, False)


def _resume(model, experiment, train):
    """The run's progress: the saved state's, given back to `model`, or a new one.

    Returns:
      (run_state.Progress, the saved state's index or None).
    """
    progress = run_state.Progress(steps_per_epoch=experiment.steps_per_epoch)
    loaded = run_state.load(experiment.run_dir)
    if loaded is None:
        return progress, None
    progress, index = loaded
    run_state.restore_model(experiment.run_dir, model, index, train.element_spec)
    _log(f"resuming from {progress.describe()} (saved in "
         f"{os.path.join(experiment.run_dir, run_state.FOLDER)})")
    return progress, index


def _callbacks(experiment, progress, index, has_validation, stop, phases):
    """The run's callbacks, in the order they must see the epoch logs, and its Checkpointer."""
    config, tasks = experiment.config, experiment.data.tasks
    callbacks = [callbacks_lib.HeadNames(tasks, experiment.loss_weights)]
    if phases is not None:
        callbacks.insert(0, phases_lib.FirstStep(phases))
    if has_validation:
        callbacks.append(inspection.ValidationInspector(
            experiment.data.validation, tasks, experiment.data.hierarchy,
            os.path.join(experiment.workdir, "tensorboard"), config.batch_size, config.epochs))
    clock = callbacks_lib.EpochLogger(resumed=progress)
    monitor = callbacks_lib.best_checkpoint_monitor(tasks[0]) if has_validation else None
    saver = checkpointer_lib.Checkpointer(
        experiment.workdir, experiment.run_dir, experiment.saves_state,
        [task.name for task in tasks], monitor, progress, index, clock,
        60.0 * config.checkpoint_minutes, stop, config.max_loss_growth,
        config.early_stopping_patience)
    # Last: its epoch line shows the logs as the others left them.
    shown = progress_lib.TrainingProgress(tasks, config.epochs, config.batch_size,
                                          config.progress_seconds, experiment.steps_per_epoch)
    return [*callbacks, clock, saver, shown], saver


def fit(model, experiment, datasets, stop=None):
    """Trains `model` as `train_and_evaluate` does (see `fit_run`); returns the logs of every
    epoch of the run, a list of dicts."""
    return fit_run(model, experiment, datasets, stop)[0]


def fit_run(model, experiment, datasets, stop=None, phases=None):
    """Trains `model` from where the run's saved state left off to the last epoch.

    The data order is a seeded function of the step: a resumed run skips the batches
    already trained. An epoch resumed in its middle is finished by a fit of its remaining
    steps, and the epochs after it by a second fit.

    With early stopping, the model ends with the weights of the best checkpoint.

    Args:
      model, experiment, datasets, stop: as `train_and_evaluate` has them.
      phases: the run's `phases.Phases`, whose first step this marks, or None.

    Returns:
      (the logs of every epoch of the run, a list of dicts; its `run_state.Progress`).
    """
    config, steps = experiment.config, experiment.steps_per_epoch
    train, validation, _ = datasets
    progress, index = _resume(model, experiment, train)
    callbacks, saver = _callbacks(experiment, progress, index, validation is not None, stop,
                                  phases)
    segments, epoch = [], progress.epoch
    if progress.step:
        segments.append((epoch, steps - progress.step))
        epoch += 1
    if epoch < config.epochs:
        segments.append((epoch, steps))
    for number, (first_epoch, segment_steps) in enumerate(segments):
        if saver.progress.stopped_epoch:
            break  # stopped early (before a stop and resume, too)
        done = first_epoch * steps + (steps - segment_steps)
        if number:
            # A new pipeline: a second iterator of the same one would shuffle and augment
            # in another order (its random generators have moved on), not as from the start.
            train = make_datasets(experiment)[0]
        # One iterator over the repeated training set per fit (each pass still reshuffled
        # and re-augmented): a new iterator per epoch can stall that epoch's first step.
        model.fit(train.repeat().skip(done) if done else train.repeat(),
                  steps_per_epoch=segment_steps, initial_epoch=first_epoch,
                  epochs=first_epoch + 1 if segment_steps < steps else config.epochs,
                  validation_data=validation, callbacks=callbacks, shuffle=False, verbose=0)
    _end_early_stopping(model, experiment, saver.progress)
    return list(saver.progress.history), saver.progress


def _end_early_stopping(model, experiment, progress):
    """After early stopping, gives `model` the weights of the best checkpoint."""
    if not progress.stopped_epoch:
        return
    best = os.path.join(experiment.workdir, run_state.FOLDER, "best.keras")
    model.load_weights(best)
    _log(f"early stopping after epoch {progress.stopped_epoch}: "
         f"{experiment.config.early_stopping_patience} epochs without a better "
         f"{callbacks_lib.best_checkpoint_monitor(experiment.data.tasks[0])[0]}; "
         f"the model is that of epoch {progress.best_epoch} ({best})")


def early_stopping_record(experiment, progress):
    """What metrics.json says about early stopping: {} when it is off."""
    patience = experiment.config.early_stopping_patience
    if not patience:
        return {}
    monitor, direction = callbacks_lib.best_checkpoint_monitor(experiment.data.tasks[0])
    return {"early_stopping": {"patience": patience, "monitor": monitor, "direction": direction,
                               "best": progress.best, "best_epoch": progress.best_epoch,
                               "stopped_epoch": progress.stopped_epoch}}


def train_and_evaluate(experiment, stop=None, phases=None):
    """Trains (or resumes), evaluates on the test split and writes the run's outputs.

    Args:
      experiment: from `prepare`.
      stop: the process's `signals.StopRequest`, or None.
      phases: the run's `phases.Phases`, marked since the run started (default: a new
        one, which knows none of the phases before this call); metrics.json's `phases`
        are its seconds.

    Returns:
      (the metrics dict also written to `workdir/metrics.json`, the trained model).

    Raises:
      errors.Diverged: a head's training loss became NaN or infinite, or grew past
        --max_loss_growth times its first value.
      errors.Interrupted: a signal stopped the run (its state is saved).
    """
    config, data, workdir = experiment.config, experiment.data, experiment.workdir
    stop = stop or signals.StopRequest()
    phases = phases or phases_lib.Phases()
    start = time.perf_counter()
    model, precision = build_and_compile(experiment)
    _log(f"dataset={data.name}{' (synthetic)' if data.synthetic else ''} train={len(data.train)} "
         f"validation={len(data.validation) if data.validation is not None else 0} "
         f"test={len(data.test)} images={data.train.storage} "
         f"heads={','.join(t.name for t in data.tasks)}"
         f"{'' if data.mirror_keeps_labels else ' (never flipped: its heads name positions)'}")
    shape = experiment.parts.architecture.options
    _log(f"trunk={config.trunk} architecture={config.architecture}{shape or ''} "
         f"parameters={model.count_params():,} "
         f"strategy={strategy_lib.public_name(experiment.strategy)} "
         f"replicas={experiment.strategy.num_replicas_in_sync} "
         f"batch_size={config.batch_size} (global) jit_compile={model.jit_compile} "
         f"(asked {config.jit_compile}) precision={precision} loss_weights={experiment.loss_weights}")
    _log(f"weighting={config.weighting} ({model.weighting_method.level} level"
         f"{', rep_grad' if config.rep_grad else ''}) options={model.weighting_method.options}"
         f"{rep_grad_note(config, data)}")
    datasets = make_datasets(experiment)
    phases.mark("built")
    # From here on a signal stops the run at its next safe point (`signals`): after a
    # step, a validation, a test batch, or between two outputs, each written whole.
    stop.deferred = True
    try:
        history, progress = fit_run(model, experiment, datasets, stop, phases)
        phases.mark("trained")
        stop.check()
        fileio.save_model(model, os.path.join(workdir, "model.keras"))
        stop.check()
        test_results, probabilities = evaluate_test(model, experiment, datasets[2], stop=stop)
        results = {"dataset": data.name, "synthetic": data.synthetic, **test_results,
                   "epochs": config.epochs, "epochs_trained": len(history),
                   **early_stopping_record(experiment, progress),
                   "wall_seconds": round(time.perf_counter() - start, 1)}
        _write_reports(experiment, history, results, probabilities)
        stop.check()
        phases.mark("finished")  # what is left, writing a small JSON file, takes no time
        results["phases"] = phases.seconds()
        fileio.write_json(os.path.join(workdir, "metrics.json"), results)  # last: the run is done
    finally:
        stop.deferred = False
    if experiment.saves_state:
        run_state.remove(experiment.run_dir)
    _log(f"test metrics: {report.heads_text(results['heads'])}; written to {workdir}")
    return results, model


def evaluate_test(model, experiment, test, split="test", stop=None):
    """The metrics of `model` on the test split (or `split`, "validation", whose pipeline
    `test` then is), with test-time augmentation if configured, and its (averaged)
    predictions {head: outputs}. A signal recorded by `stop` (a `signals.StopRequest`)
    stops the prediction at the end of its batch."""
    config, data = experiment.config, experiment.data
    labels = getattr(data, split)

    def evaluate(probabilities):
        return metrics_lib.evaluate(data.tasks, data.hierarchy, probabilities, labels.labels,
                                    labels.masks)

    views = pipeline.test_views(test, config.test_flip, config.test_shift)
    steps = -(-len(labels) // config.batch_size)
    _log(f"predicting the {split} split: {len(labels)} images"
         + (f" in {len(views)} views (test-time augmentation)" if len(views) > 1 else ""))
    shown = progress_lib.PredictionProgress(f"{split} split", steps, len(views), config.batch_size,
                                            config.progress_seconds)
    callbacks = [shown] + ([signals.StopCheck(stop)] if stop is not None else [])
    predictions = [model.predict(view, verbose=0, callbacks=callbacks) for view in views]
    shown.close()
    probabilities = {name: np.mean([p[name] for p in predictions], axis=0) for name in predictions[0]}
    extra = {"heads_single_view": evaluate(predictions[0])["heads"]} if len(views) > 1 else {}
    per_task = experiment.parts.protocol.task_metrics(data, probabilities, split)
    return {**evaluate(probabilities), **per_task, "test_flip": config.test_flip,
            "test_shift": config.test_shift, "test_views": len(views), **extra}, probabilities


def _write_reports(experiment, history, results, probabilities):
    """report.png and report.md, and the run's entry in TensorBoard's HParams dashboard."""
    data, workdir = experiment.data, experiment.workdir
    confusions = {}
    for task in data.tasks:
        known = data.test.known(task.name)
        classes = task.head_kind.predicted_classes(task, probabilities[task.name][known],
                                                   data.test.labels[task.name][known])
        if classes is not None:  # one class per image: a confusion matrix
            labels, guesses, count = classes
            confusions[task.name] = (figures.confusion_matrix(labels, guesses, count),
                                     task.class_names)
    report.write(workdir, data.tasks, history, results, confusions)
    tensorboard.write_run_summary(os.path.join(workdir, "tensorboard"),
                                  experiment.config.to_dict(), results["heads"],
                                  experiment.config.epochs)
