"""The run configuration: one frozen dataclass, built by the entry point from flags."""

import dataclasses
import math

from mtl_keras import errors
from mtl_keras import tasks as tasks_lib

# How a run is kept, not what it computes: where it writes, how often it saves its state,
# when it counts as diverged. A resumed run may change them; runs that differ only in
# them are runs of one setting.
KEEPING_ONLY = frozenset({"workdir", "checkpoint_minutes", "max_loss_growth", "progress_seconds"})
# How a run combines its tasks' losses or gradients. A single-task baseline has one task, so
# neither its training nor what it is compared with depends on them: a study does not vary
# them over its baselines, and a comparison matches a multi-task run with the baselines
# whatever its method.
METHOD_ONLY = frozenset({"weighting", "weighting_options", "rep_grad"})

MAX_IMAGE_SIZE = 4096  # pixels a side: 48 MiB per decoded image, already more than any trunk wants
CHOICES = {
    "optimizer": ("auto", "sgd", "adamw"),
    "schedule": ("cosine", "onecycle", "constant"),
    "jit_compile": ("auto", "true", "false"),
    "strategy": ("auto", "default", "mirrored", "multi_worker"),
    "mixed_precision": ("auto", "true", "false"),
    "sampling": ("uniform", "proportional", "annealed"),
    "in_memory": ("auto", "true", "false"),
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a run depends on. Field names equal the command-line flag names.

    The fields marked "auto" below are chosen from the dataset's size when the run starts
    (`mtl_keras.size_rule`), unless a flag sets them.
    """

    experiment: str = ""
    dataset: str = "cifar100"
    heads: str = ""  # hierarchical datasets: levels as heads, e.g. "fine,coarse,top"
    trunk: str = "resnet20"
    architecture: str = "hps"  # which layers the heads share (mtl_keras.models.architectures)
    architecture_options: dict = dataclasses.field(default_factory=dict)  # its hyperparameters
    epochs: int = 30
    batch_size: int = 0  # global: split over the replicas of the strategy; 0: auto
    learning_rate: float = 0.0  # peak learning rate; 0: auto (SGD 0.1 per 128, AdamW 0.002)
    optimizer: str = "auto"  # auto: AdamW on small data, SGD otherwise
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    batch_norm_momentum: float = 0.0  # moving averages of the trunk's batch norm; 0: auto
    warmup_epochs: float = 1.0
    loss_weights: dict = dataclasses.field(default_factory=dict)  # head name → weight
    weighting: str = "equal"  # the multi-task method (mtl_keras.methods)
    weighting_options: dict = dataclasses.field(default_factory=dict)  # its hyperparameters
    rep_grad: bool = False  # gradient methods: task gradients at the trunk's output
    augment: bool = True
    random_erasing: float = 0.0  # probability, with --augment
    test_flip: bool = False  # test-time augmentation: average with the mirrored image
    test_shift: int = 0  # test-time augmentation: average with images moved this many pixels
    validation_size: int = -1  # -1: auto (a tenth of the training images, at most 5,000)
    seed: int = 0
    deterministic: bool = False
    jit_compile: str = "auto"
    strategy: str = "auto"
    mixed_precision: str = "auto"  # auto: where the hardware has a fast 16-bit path
    losses: dict = dataclasses.field(default_factory=dict)  # head name → loss name or import path
    label_smoothing: float = 0.0  # multiclass heads with the default cross-entropy
    data_dir: str = ""
    archive: str = ""
    csv: str = ""  # --dataset=folder: the labels table
    image_dir: str = ""  # folder of the images (folder: default the CSV's folder; utkface)
    image_column: str = "image"
    split_column: str = "split"
    tasks: str = ""  # folder and tfds: [HEAD=]SOURCE:KIND[:CLASSES],...
    tasks_file: str = ""  # --dataset=folder: JSON list of heads
    image_size: int = 64  # folder, utkface and omniglot: images are resized to this square
    test_fraction: float = 0.2  # folder and utkface without a split column
    in_memory: str = "auto"  # folder, utkface, tfds: decode into memory, or stream from disk
    cache_dir: str = ""  # streamed folders: record shards written there once
    checkpoint_minutes: float = 10.0  # state saved within an epoch this often (0: epoch ends only)
    max_loss_growth: float = 1e6  # a head's loss above this many times its first: diverged (0: off)
    early_stopping_patience: int = 0  # epochs without a better best.keras before stopping (0: off)
    progress_seconds: float = 60.0  # output that is not a terminal: a progress line this often
    protocol: str = "joint"  # a registered protocol (mtl_keras/protocols): how the heads train
    task: str = ""  # --protocol=single_task: the one head to train
    sampling: str = "uniform"  # --protocol=task_sampling: how each step's task is drawn
    sampling_temperature: float = 1.0  # proportional sampling: sizes ** (1 / temperature)
    synthetic: bool = False
    synthetic_examples: int = 2048  # training images made up when synthetic
    workdir: str = ""

    def __post_init__(self):
        for field, choices in CHOICES.items():
            if getattr(self, field) not in choices:
                raise errors.UserError(
                    f"--{field}={getattr(self, field)} is not one of {', '.join(choices)}.")
        if not 0 <= self.label_smoothing < 1:
            raise errors.UserError(
                f"--label_smoothing must be at least 0 and below 1, not {self.label_smoothing}.")
        if self.test_shift < 0:
            raise errors.UserError(
                f"--test_shift is a number of pixels, 0 or more, not {self.test_shift}.")
        if not 0 <= self.random_erasing <= 1:
            raise errors.UserError(
                f"--random_erasing is a probability between 0 and 1, not {self.random_erasing}.")
        if not 0 < self.test_fraction < 1:
            raise errors.UserError(f"--test_fraction must be between 0 and 1, not {self.test_fraction}.")
        for field in ("epochs", "synthetic_examples", "image_size"):
            if getattr(self, field) < 1:
                raise errors.UserError(f"--{field} must be at least 1, not {getattr(self, field)}.")
        if self.image_size > MAX_IMAGE_SIZE:
            raise errors.UserError(f"--image_size must be at most {MAX_IMAGE_SIZE} pixels (one "
                                   f"image of {self.image_size}² would not fit in memory), not "
                                   f"{self.image_size}.")
        if set(self.experiment) & set("/\\") or self.experiment.startswith("."):
            raise errors.UserError(f"--experiment={self.experiment} names a folder under runs/: "
                                   f"a name without / or \\ that does not start with a dot.")
        if self.batch_size < 0:
            raise errors.UserError(f"--batch_size must be at least 1 (or 0: chosen by the "
                                   f"dataset's size), not {self.batch_size}.")
        if self.validation_size < -1:  # the upper bound needs the data: source.check_validation_size
            raise errors.UserError(f"--validation_size must be 0 or more (or -1: chosen by the "
                                   f"dataset's size), not {self.validation_size}.")
        if not 0 <= self.batch_norm_momentum < 1:
            raise errors.UserError(f"--batch_norm_momentum must be at least 0 and below 1 (0: "
                                   f"chosen by the dataset's size), not {self.batch_norm_momentum}.")
        if self.early_stopping_patience < 0:
            raise errors.UserError(f"--early_stopping_patience is a number of epochs, 0 (off) or "
                                   f"more, not {self.early_stopping_patience}.")
        for field in ("learning_rate", "momentum", "weight_decay", "warmup_epochs",
                      "checkpoint_minutes", "progress_seconds"):
            if not math.isfinite(getattr(self, field)):
                raise errors.UserError(f"--{field} must be a finite number, not {getattr(self, field)}.")
            if getattr(self, field) < 0:
                raise errors.UserError(f"--{field} must not be negative, not {getattr(self, field)}.")
        if not (math.isfinite(self.max_loss_growth)
                and (self.max_loss_growth == 0 or self.max_loss_growth > 1)):
            raise errors.UserError(f"--max_loss_growth must be a finite number above 1 (or 0: no "
                                   f"limit), not {self.max_loss_growth}.")
        if not 0 <= self.seed < 2**31 - 1:
            raise errors.UserError(f"--seed must be between 0 and {2**31 - 2}, not {self.seed}.")
        if self.warmup_epochs > self.epochs:
            raise errors.UserError(
                f"--warmup_epochs={self.warmup_epochs} is longer than --epochs={self.epochs}.")
        if not math.isfinite(self.sampling_temperature) or self.sampling_temperature <= 0:
            raise errors.UserError(f"--sampling_temperature must be a finite number above 0, not "
                                   f"{self.sampling_temperature}.")
        for name, weight in self.loss_weights.items():
            tasks_lib.check_weight(name, weight, "--loss_weights")

    @property
    def experiment_name(self):
        """The experiment's name: `experiment`, else dataset and trunk ("tfds:x" as "tfds_x")."""
        return self.experiment or f"{self.dataset.replace(':', '_')}_{self.trunk}"

    def to_dict(self):
        """Returns the config as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


def parse_loss_weights(text):
    """Parses "fine=1.0,coarse=0.5" into {"fine": 1.0, "coarse": 0.5}."""
    return parse_numbers(text, "--loss_weights", "fine=1.0,coarse=0.5", "head")


def parse_numbers(text, flag, example, what):
    """Parses "a=1,b=2.5" (the value of `flag`) into {"a": 1.0, "b": 2.5}.

    Raises:
      UserError: an item that is not NAME=NUMBER, or a name given twice; the message
        shows `example` and calls a name a `what`.
    """
    numbers = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.partition("=")
        try:
            if not equals or not name.strip():
                raise ValueError
            number = float(value)
        except ValueError:
            raise errors.UserError(
                f"{flag} item {item!r} is not NAME=NUMBER; write e.g. {flag}={example}.") from None
        if name.strip() in numbers:
            raise errors.UserError(f"{flag} names {what} {name.strip()!r} twice.")
        numbers[name.strip()] = number
    return numbers


def format_numbers(numbers):
    """The inverse of `parse_numbers` ({"a": 1.0} → "a=1.0"), exact for every float."""
    return ",".join(f"{name}={float(value)!r}" for name, value in numbers.items())


def format_losses(losses):
    """The inverse of `parse_losses`."""
    return ",".join(f"{name}={loss}" for name, loss in losses.items())


def parse_losses(text):
    """Parses "age=mae,race=package.module:function" into {"age": "mae", ...}."""
    losses = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, loss = (part.strip() for part in item.partition("="))
        if not equals or not name or not loss:
            raise errors.UserError(f"--losses item {item!r} is not HEAD=LOSS; write e.g. "
                                   f"--losses=age=mae,race=package.module:function.")
        if name in losses:
            raise errors.UserError(f"--losses names head {name!r} twice.")
        losses[name] = loss
    return losses
