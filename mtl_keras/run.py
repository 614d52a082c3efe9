"""Entry point: `python -m mtl_keras.run --flagfile=experiments/cifar100_mtl.flags`.

The only module that reads absl flags. It turns them into a frozen `Config`, checks
the inputs and loads the data (`train.prepare`), writes flags.txt and config.json
into the workdir, then calls `train.train_and_evaluate`. Mistakes in the input are
printed as one sentence, with exit status 2, before anything is written.
"""

import datetime
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from mtl_keras import config as config_lib  # noqa: E402
from mtl_keras import errors  # noqa: E402

_DEFAULTS = config_lib.Config()
_HELP = {
    "experiment": "Name of the experiment; names the default workdir. Default: DATASET_TRUNK.",
    "dataset": "Registered dataset: cifar100, cifar10, fashion_mnist, folder, utkface.",
    "heads": "Hierarchical datasets: the label levels to train as heads, e.g. fine,coarse,top "
             "(default: the dataset's own).",
    "trunk": "Registered trunk: simple_cnn, lenet, resnet20, resnet56, resnet18, resnet9.",
    "epochs": "Training epochs.",
    "batch_size": "Global batch size, split over the replicas of the strategy (0: chosen by "
                  "the dataset's size, 128 from 3,840 training images on).",
    "learning_rate": "Peak learning rate (0: chosen, 0.1 per 128 images of batch for SGD, "
                     "0.002 for AdamW).",
    "optimizer": "sgd (Nesterov momentum), adamw, or auto (AdamW below 12,800 training "
                 "images, SGD from there on).",
    "momentum": "SGD momentum.",
    "weight_decay": "Decoupled weight decay; biases and normalization are spared.",
    "schedule": "cosine (linear warm-up then cosine), onecycle or constant.",
    "batch_norm_momentum": "Momentum of the trunk's batch-normalization moving averages (0: "
                           "chosen, 1 - 1/steps per epoch, between 0.5 and 0.99).",
    "warmup_epochs": "Epochs of linear warm-up for the cosine schedule.",
    "loss_weights": "Per-head loss weights, e.g. fine=1.0,coarse=0.5; unnamed heads weigh 1.",
    "augment": "Pad-4 random crop and horizontal flip of training images.",
    "random_erasing": "With --augment: probability that a training image also gets one random "
                      "rectangle (2-40 % of its area) replaced by noise.",
    "test_flip": "Test-time augmentation: also predict every test image mirrored left-right "
                 "and average the predictions (metrics.json keeps the figures of the plain "
                 "image alone under heads_single_view).",
    "test_shift": "Test-time augmentation: also predict every test image moved this many "
                  "pixels up, down, left and right (zero-filled) and average the predictions; "
                  "with --test_flip, their mirror images too. 0: off.",
    "validation_size": "Training examples held out for validation (0 for none; -1: a tenth "
                       "of them, at most 5,000).",
    "seed": "Seed of initialization, shuffling and augmentation.",
    "deterministic": "Turn on TensorFlow op determinism (slower).",
    "jit_compile": "XLA: auto (on GPUs only), true or false.",
    "strategy": "auto, default, mirrored (all local GPUs) or multi_worker (reads TF_CONFIG).",
    "mixed_precision": "16-bit compute, float32 weights: auto (where the hardware has a fast "
                       "path: GPUs of compute capability 7.0+, CPUs with AVX-512 BF16 or "
                       "AMX), true or false. float16 on GPUs, bfloat16 on CPUs.",
    "losses": "Per-head loss overrides: HEAD=NAME (mse, mae, huber, binary_crossentropy, "
              "sparse_categorical_crossentropy) or HEAD=package.module:function.",
    "label_smoothing": "Label smoothing of the multiclass heads that use the default "
                       "cross-entropy, e.g. 0.1 (0: none).",
    "data_dir": "TensorFlow Datasets data directory (default: TFDS' own).",
    "csv": "--dataset=folder: CSV with an image-path column and one column per head.",
    "image_dir": "Folder of the images (folder: default the CSV's folder; utkface: required).",
    "image_column": "--dataset=folder: the CSV column of image paths.",
    "split_column": "--dataset=folder: the CSV column of train/validation/test, if present.",
    "tasks": "--dataset=folder: heads as NAME:KIND[:CLASSES],... e.g. "
             "age:regression,gender:binary,race:multiclass:7.",
    "tasks_file": "--dataset=folder: JSON list of heads (name, kind, classes, loss, weight).",
    "image_size": "folder and utkface: images are resized to this many pixels square.",
    "test_fraction": "folder and utkface without a split column: share of images for testing.",
    "archive": "Path of an original dataset archive (e.g. cifar-100-python.tar.gz); no download.",
    "synthetic": "Use made-up images shaped like the dataset (smoke runs).",
    "synthetic_examples": "Number of made-up training images with --synthetic.",
    "workdir": "Output folder. Default: runs/EXPERIMENT-TIMESTAMP.",
}
_ENUMS = set(config_lib.CHOICES)


def _define_flags():
    for name, default in _DEFAULTS.to_dict().items():
        if name in ("loss_weights", "losses"):
            flags.DEFINE_string(name, "", _HELP[name])
        elif name in _ENUMS:
            flags.DEFINE_enum(name, default, config_lib.CHOICES[name], _HELP[name])
        elif isinstance(default, bool):
            flags.DEFINE_bool(name, default, _HELP[name])
        elif isinstance(default, int):
            flags.DEFINE_integer(name, default, _HELP[name])
        elif isinstance(default, float):
            flags.DEFINE_float(name, default, _HELP[name])
        else:
            flags.DEFINE_string(name, default, _HELP[name])


_define_flags()
FLAGS = flags.FLAGS


def config_from_flags():
    """Returns the `Config` the parsed flags describe."""
    values = {name: FLAGS[name].value for name in _DEFAULTS.to_dict()}
    values["loss_weights"] = config_lib.parse_loss_weights(values["loss_weights"])
    values["losses"] = config_lib.parse_losses(values["losses"])
    return config_lib.Config(**values)


def flags_text(config):
    """Returns a flagfile that reproduces `config` (all flags but --workdir)."""
    lines = [f"# Reproduces this run: python -m mtl_keras.run --flagfile=THIS_FILE "
             f"[--workdir=NEW_FOLDER]"]
    lines += [FLAGS[name].serialize() for name in config.to_dict() if name != "workdir"]
    return "\n".join(line for line in lines if line) + "\n"


def default_workdir(config):
    """runs/EXPERIMENT-YYYYmmdd-HHMMSS."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{config.experiment_name}-{stamp}")


def main(argv):
    """Runs one experiment from the parsed flags; exits with status 2 on bad input."""
    if len(argv) > 1:
        print(f"error: unexpected arguments {' '.join(argv[1:])}; flags look like --name=value.",
              file=sys.stderr)
        sys.exit(2)
    try:
        config = config_from_flags()
        workdir = config.workdir or default_workdir(config)
        from mtl_keras.training import train  # Imported here: TensorFlow is slow to import.

        experiment = train.prepare(config, workdir)
    except errors.UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    workdir = experiment.workdir
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "flags.txt"), "w", encoding="utf-8") as flags_file:
        flags_file.write(flags_text(config))
    with open(os.path.join(workdir, "config.json"), "w", encoding="utf-8") as config_file:
        json.dump({**experiment.config.to_dict(), "workdir": workdir}, config_file, indent=2)
    train.train_and_evaluate(experiment)


def console_main():
    """The `mtl-keras` console script."""
    app.run(main)


if __name__ == "__main__":
    console_main()
