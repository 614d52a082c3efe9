"""prepare() checks a run's inputs and loads its data, writing nothing: the entry point
refuses bad input before anything is written to the workdir, since every check that can
fail on user input happens here. `train.train_and_evaluate` then runs the `Experiment`.
"""

import dataclasses
import os

from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import methods
from mtl_keras import protocols
from mtl_keras import size_rule
from mtl_keras.data import fingerprint as fingerprint_lib
from mtl_keras.data import source
from mtl_keras.models import architectures
from mtl_keras.models import trunks
from mtl_keras.training import compile as compile_lib
from mtl_keras.training import strategy as strategy_lib
from mtl_keras.training import workdir as workdir_lib


@dataclasses.dataclass(frozen=True)
class Parts:
    """A run's registered parts, resolved and checked once, before training.

    Attributes:
      trunk: the `trunks.Trunk`.
      architecture: the `Architecture`, its options resolved.
      method: the method's class; `method_options` its options, resolved and checked.
      protocol: the `Protocol`.
    """

    trunk: object
    architecture: object
    method: object
    method_options: dict
    protocol: object


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A checked run: its config, strategy, data, resolved loss weights and folders.

    `workdir` is where this process writes: the run's folder, or under the multi-worker
    strategy, for every worker but the chief, a `worker-N` folder inside it. `run_dir` is
    the run's folder itself, whose saved state every process resumes from; only the
    chief (`saves_state`) saves it. `resumes` tells that the run's folder holds an
    unfinished run of the same command; `fingerprint` describes the data it trains on
    (`data.fingerprint`).
    """

    config: object
    strategy: object
    data: source.DataSource
    loss_weights: dict
    workdir: str
    run_dir: str = ""
    saves_state: bool = True
    resumes: bool = False
    parts: Parts = None
    fingerprint: dict = None

    @property
    def steps_per_epoch(self):
        """Training steps per epoch (the last partial batch is dropped)."""
        return len(self.data.train) // self.config.batch_size


def _folders(workdir, strategy, config):
    """(this process's folder, whether the chief, whether it resumes), all checked."""
    worker = strategy_lib.worker_name(strategy)
    if worker:
        return os.path.join(workdir, worker), False, workdir_lib.check(
            os.path.join(workdir, worker), config)
    # The other workers may already have made their folders inside the chief's.
    return workdir, True, workdir_lib.check(workdir, config, ignore_workers=True)


def prepare(config, workdir):
    """Checks the config against the machine and the data, and loads the data.

    Writes nothing. Raises UserError for any problem with the user's input.
    """
    if config.strategy == "multi_worker" and not config.workdir:
        raise errors.UserError("--strategy=multi_worker needs --workdir: give every worker the "
                               "same folder on storage they share.")
    # The multi-worker strategy must be made before anything else starts TensorFlow.
    strategy = strategy_lib.make_strategy(config.strategy)
    process_dir, chief, resumes = _folders(workdir, strategy, config)
    parts = check_parts(config)  # an unknown trunk or method fails here, before any writing
    protocol = parts.protocol
    data = training_data(config, protocol)
    config = size_rule.apply(config, data)  # the settings left to the dataset's size
    fingerprint = fingerprint_lib.of(data)
    if resumes:
        workdir_lib.check_resolved(process_dir, config)
        workdir_lib.check_data(process_dir, fingerprint)
    strategy_lib.check_batch_size(config.batch_size, strategy)
    protocol.check(data, config)
    data = dataclasses.replace(data, tasks=compile_lib.override_losses(data.tasks, config.losses))
    loss_weights = compile_lib.resolve_loss_weights(data.tasks, config.loss_weights)
    experiment = Experiment(config, strategy, data, loss_weights, process_dir, run_dir=workdir,
                            saves_state=chief, resumes=resumes, parts=parts,
                            fingerprint=fingerprint)
    if experiment.steps_per_epoch < 1:
        raise errors.UserError(
            f"--batch_size={config.batch_size} is larger than the {len(data.train)} training "
            f"examples; use a smaller batch.")
    if 2 * config.test_shift >= min(data.image_shape[:2]):
        raise errors.UserError(
            f"--test_shift={config.test_shift} moves the {data.image_shape[0]}x"
            f"{data.image_shape[1]} images out of sight; use a shift below half their size.")
    if config.early_stopping_patience and data.validation is None:
        raise errors.UserError(
            f"--early_stopping_patience={config.early_stopping_patience} watches the validation "
            f"split, and this run has none; give --validation_size or leave early stopping off.")
    if config.test_flip and not data.mirror_keeps_labels:
        raise errors.UserError(f"--test_flip averages over mirrored test images, but {data.name}'s "
                               f"heads name positions that a mirror moves; leave --test_flip off.")
    return experiment


def training_data(config, protocol):
    """The data a run of `config` trains on: its dataset loaded, as its `protocol` gives it."""
    return protocol.training_data(data_lib.load(config), config)


def data_fingerprint(config):
    """The fingerprint (`data.fingerprint`) of the data a run of `config` would train on,
    loaded as the run loads it; nothing is trained or written. Raises UserError as the run
    would for data it cannot read."""
    return fingerprint_lib.of(training_data(config, protocols.get(config.protocol)))


def data_differences(stored, current):
    """How two data fingerprints differ, as phrases ("the labels"); [] when they are equal."""
    if stored == current:
        return []
    return fingerprint_lib.changes(stored, current) or ["the parts of their fingerprints"]


def check_parts(config):
    """Resolves the run's registered parts, which the data plays no part in.

    Returns:
      The `Parts`.

    Raises:
      UserError: an unknown dataset, trunk, architecture, method or protocol, options they
        lack or values they refuse, or --rep_grad where it cannot apply.
    """
    data_lib.DATASETS.get(config.dataset.partition(":")[0])
    trunk = trunks.TRUNKS.get(config.trunk)
    architecture = _check_architecture(config, trunk)
    method = methods.METHODS.get(config.weighting)
    options = methods.METHODS.options(config.weighting, config.weighting_options)
    if config.rep_grad and method.rep_grad_refusal():
        gradient = [entry.name for entry in methods.METHODS.entries()
                    if not entry.value.rep_grad_refusal()]
        raise errors.UserError(
            f"--rep_grad applies to gradient-level methods; --weighting={config.weighting} "
            f"{method.rep_grad_refusal()}. Drop --rep_grad, or choose one of "
            f"{', '.join(gradient)}.")
    protocol = protocols.get(config.protocol)
    # Another protocol's settings given to this one would be ignored: refused instead.
    others = {flag for entry in protocols.PROTOCOLS.entries() for flag in entry.value.flags}
    foreign = sorted(flag for flag in others - set(protocol.flags)
                     if getattr(config, flag) != getattr(config_lib.Config(), flag))
    if foreign:
        owners = [entry.name for entry in protocols.PROTOCOLS.entries()
                  if foreign[0] in entry.value.flags]
        raise errors.UserError(f"--{foreign[0]}={getattr(config, foreign[0])} is a setting of "
                               f"--protocol={', '.join(owners)}; this run's protocol is "
                               f"{config.protocol}.")
    return Parts(trunk, architecture, method, options, protocol)


def _check_architecture(config, trunk):
    """The --architecture, its options resolved; UserError for an unknown one, options it
    lacks, a trunk without the stages it needs, or --rep_grad when the heads share no
    representation."""
    architecture = architectures.make(config.architecture, config.architecture_options)
    architecture.check(trunk)
    if config.rep_grad and not architecture.shares_representation:
        sharing = [name for name in architectures.ARCHITECTURES.names()
                   if architectures.ARCHITECTURES.get(name).shares_representation]
        raise errors.UserError(
            f"--rep_grad needs a representation that every head reads; the heads of "
            f"--architecture={config.architecture} share none. Drop --rep_grad, or choose "
            f"one of {', '.join(sharing)}.")
    return architecture
