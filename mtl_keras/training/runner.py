"""A run's life cycle from Python: check, lock the folder, describe it, train, evaluate, report.

`train` is what `mtl-keras train` does, as a function: it takes a `Config` (or its fields
as keyword arguments), raises the same one-sentence `UserError` for bad input before
anything is written, resumes an unfinished run of the same settings in its folder, and
returns the test metrics and the trained model.
"""

import dataclasses
import datetime
import os
import signal
import threading

from mtl_keras import config as config_lib
from mtl_keras import fileio
from mtl_keras import flagfiles
from mtl_keras.training import phases as phases_lib
from mtl_keras.training import preparation
from mtl_keras.training import signals
from mtl_keras.training import train as train_lib
from mtl_keras.training import workdir as workdir_lib


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished run.

    Attributes:
      workdir: its folder (model.keras, metrics.json, report.png, tensorboard/, ...).
      metrics: the test metrics, as in metrics.json: `metrics["heads"][head][metric]`.
      model: the trained `MultiTaskModel`.
      config: the settings it ran with, the automatic ones resolved.
    """

    workdir: str
    metrics: dict
    model: object
    config: config_lib.Config


def default_workdir(config):
    """runs/EXPERIMENT-YYYYmmdd-HHMMSS."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{config.experiment_name}-{stamp}")


def train(config=None, stop=None, **settings):
    """Trains a run into its workdir, resuming it if it was stopped; returns a `Run`.

    Args:
      config: a `mtl_keras.Config`; or give its fields as keyword arguments
        (`train(dataset="fashion_mnist", epochs=3)`), the names of the command-line flags.
      stop: a `signals.StopRequest` whose handlers the caller installed; by default SIGINT
        and SIGTERM stop training at the end of a step with the state saved (when called
        from the main thread), and the previous handlers are restored on return.
      **settings: `Config` fields, on top of `config`.

    Raises:
      UserError: bad input (one sentence); nothing was written.
      Diverged: a head's loss became NaN or infinite, or grew past `max_loss_growth` times
        its first value.
      Interrupted: a signal stopped the run; its state is saved, and the same call resumes.
    """
    config = dataclasses.replace(config, **settings) if config else config_lib.Config(**settings)
    if stop is not None:
        return _train(config, stop)
    stop = signals.StopRequest()
    if threading.current_thread() is not threading.main_thread():
        return _train(config, stop)
    previous = {number: signal.getsignal(number) for number in signals.NAMES}
    stop.install()
    try:
        return _train(config, stop)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _train(config, stop):
    phases = phases_lib.Phases()
    phases.mark("started")
    experiment = preparation.prepare(config, config.workdir or default_workdir(config))
    phases.mark("prepared")
    stop.check()  # a signal while the data loaded (or a record cache was written)
    lock = fileio.WorkdirLock(experiment.workdir)
    lock.acquire()  # before writing: a second process into the folder stops here
    try:
        workdir_lib.write_missing(experiment.workdir, experiment.config, experiment.fingerprint,
                                  flagfiles.flagfile_text(config))
        metrics, model = train_lib.train_and_evaluate(experiment, stop, phases)
    finally:  # also when the run stops: the caller may start another run in this process
        lock.release()
    return Run(experiment.workdir, metrics, model, experiment.config)
