"""The settings a run leaves to the dataset's size, and the rule that chooses them.

Five flags default to "chosen by the dataset's size": `--validation_size=-1`,
`--batch_size=0`, `--optimizer=auto`, `--learning_rate=0` and `--batch_norm_momentum=0`.
A value given on the command line or in a flagfile is always kept. With N training
images (after the validation split):

- validation_size: a tenth of the images available for training, at most 5,000.
- batch_size: the largest of 128, 64 and 32 that gives at least 30 steps per epoch
  (32 when none does).
- optimizer: AdamW when the data is small, fewer than 12,800 training images (under 100
  steps per epoch at batch 128); SGD with Nesterov momentum otherwise.
- learning_rate: 0.002 for AdamW; 0.1 per 128 images of batch for SGD (0.1 at 128).
- batch_norm_momentum: 1 - 1/(steps per epoch), between 0.5 and 0.99, so that the
  moving statistics the model is tested with average about one epoch of batches.

From 12,800 training images on, with no flag given, the batch, optimizer, learning rate and
momentum are what the defaults always were (128, SGD, 0.1, 0.99), and from 50,000 images on
the validation split too (5,000): the CIFAR-100 and Fashion-MNIST recipes (45,000-60,000
training images) train exactly as before.

Why (benchmarks/results/small-folders-2026-11-30.md: 1,400 and 400 real Fashion-MNIST
images written as a folder, three heads, one of them a regression): at batch 128 such a
folder has 7 or 2 steps per epoch. SGD at 0.1 took the regression head's squared error from
3 to 8,000 in three steps and every head to NaN (with a warm-up as long as a large dataset's,
it stalled the trunk instead); AdamW's steps do not grow with the gradient, and it trained
every head. Batch-norm averages of momentum 0.99
span 100 steps, longer than such a run's first 14 epochs: with them the test scores were
near chance while the same weights, with statistics re-estimated on training images, scored
well. A smaller batch gives the optimizer and the averages more steps in the same time.

One more, `--in_memory=auto`, decides where a folder's images live (`in_memory` below):
decoded into memory when all of them take at most 1 GiB, else streamed from disk.
"""

import dataclasses

SMALL_DATA_IMAGES = 12_800  # training images; below: AdamW (100 steps per epoch at batch 128)
MAX_VALIDATION_IMAGES = 5_000
VALIDATION_SHARE = 0.1  # of the images available for training
BATCH_SIZES = (128, 64, 32)  # global batch sizes tried, largest first
MIN_STEPS_PER_EPOCH = 30
SGD_LEARNING_RATE_PER_128 = 0.1  # linear in the batch size
ADAMW_LEARNING_RATE = 0.002
MAX_BATCH_NORM_MOMENTUM = 0.99  # Keras' default: a span of about 100 steps
MIN_BATCH_NORM_MOMENTUM = 0.5

IN_MEMORY_BYTES = 1 << 30  # decoded pixels of a folder's images; above: streamed from disk

AUTO = {"validation_size": -1, "batch_size": 0, "optimizer": "auto", "learning_rate": 0.0,
        "batch_norm_momentum": 0.0}  # the Config value that means "chosen by this rule"


def validation_size(requested, available):
    """The number of validation images: `requested`, or when it is -1, the rule's choice.

    Args:
      requested: the --validation_size flag (-1: chosen by the rule).
      available: the images the validation split is carved from.
    """
    if requested != AUTO["validation_size"]:
        return requested
    return min(MAX_VALIDATION_IMAGES, int(VALIDATION_SHARE * available))


def in_memory(setting, images, image_bytes):
    """Whether a folder's (or a TFDS dataset's) images are decoded once into memory.

    Args:
      setting: the --in_memory flag: "auto", "true" or "false".
      images: the number of images of every split together.
      image_bytes: the bytes of one decoded image (height × width × channels).

    Returns:
      True for "true"; for "auto", when the decoded images take at most 1 GiB. Held in
      memory, a dataset peaks at about 2.3 times its pixels (a 3.0 GB UTKFace split peaked
      at 6.8 GB), so from that size on the images are streamed from disk in tf.data.
    """
    if setting != "auto":
        return setting == "true"
    return images * image_bytes <= IN_MEMORY_BYTES


def resolve(config, train_examples, validation_examples=0):
    """Returns `config` with every setting left to the rule chosen for the data's size.

    Args:
      config: the run's `Config`; fields equal to `AUTO` are chosen here, others are kept.
      train_examples: the number of training images (after the validation split).
      validation_examples: the size of the validation split that was carved (recorded in
        place of an automatic --validation_size).

    Returns:
      (the resolved `Config`, {field: chosen value} for the fields the rule chose).
    """
    chosen = {}
    if config.validation_size == AUTO["validation_size"]:
        chosen["validation_size"] = validation_examples
    if config.batch_size == AUTO["batch_size"]:
        chosen["batch_size"] = next(
            (size for size in BATCH_SIZES if train_examples // size >= MIN_STEPS_PER_EPOCH),
            BATCH_SIZES[-1])
    batch_size = chosen.get("batch_size", config.batch_size)
    if config.optimizer == AUTO["optimizer"]:
        chosen["optimizer"] = "adamw" if train_examples < SMALL_DATA_IMAGES else "sgd"
    optimizer = chosen.get("optimizer", config.optimizer)
    if config.learning_rate == AUTO["learning_rate"]:
        chosen["learning_rate"] = (ADAMW_LEARNING_RATE if optimizer == "adamw"
                                   else SGD_LEARNING_RATE_PER_128 * batch_size / 128)
    if config.batch_norm_momentum == AUTO["batch_norm_momentum"]:
        steps_per_epoch = max(train_examples // batch_size, 1)
        chosen["batch_norm_momentum"] = round(min(MAX_BATCH_NORM_MOMENTUM, max(
            MIN_BATCH_NORM_MOMENTUM, 1.0 - 1.0 / steps_per_epoch)), 4)
    return dataclasses.replace(config, **chosen), chosen


def apply(config, data):
    """Resolves `config` for `data` (a `source.DataSource`) and logs what the rule chose.

    Returns:
      The resolved `Config`.
    """
    validation = len(data.validation) if data.validation is not None else 0
    resolved, chosen = resolve(config, len(data.train), validation)
    if chosen:
        settings = " ".join(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                            for name, value in chosen.items())
        print(f"[mtl_keras] chosen for {len(data.train)} training images "
              f"({len(data.train) // resolved.batch_size} steps per epoch): {settings} "
              f"(README: settings chosen by the dataset's size)", flush=True)
    return resolved
