"""Entry point: `python -m mtl_keras.run --flagfile=experiments/cifar100_mtl.flags`.

The only module that reads absl flags. It turns them into a frozen `Config`, checks
the inputs and loads the data (`train.prepare`), locks the workdir, writes config.json
and flags.txt into it (unless it resumes a run of the same command), then calls
`train.train_and_evaluate`. Mistakes in the input are printed as one sentence, with
exit status 2, before anything is written; see `main` for the other exit statuses.
"""

import datetime
import os
import sys

from mtl_keras import startup  # noqa: E402, I001  (first: it sets TensorFlow's log level)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from mtl_keras import config as config_lib  # noqa: E402
from mtl_keras import errors  # noqa: E402

_DEFAULTS = config_lib.Config()
_HELP = {
    "experiment": "Name of the experiment; names the default workdir. Default: DATASET_TRUNK.",
    "dataset": "Registered dataset: cifar100, cifar10, fashion_mnist, multi_fashion, folder, "
               "utkface; task families: cifar100_tasks, cifar10_ovr, fashion_mnist_ovr, omniglot; "
               "or tfds:NAME, a TensorFlow Datasets dataset whose features --tasks maps to heads "
               "(e.g. tfds:celeb_a).",
    "heads": "Hierarchical datasets: the label levels to train as heads, e.g. fine,coarse,top "
             "(default: the dataset's own); multi_fashion: left, right or both (default).",
    "trunk": "Registered trunk: simple_cnn, lenet, resnet20, resnet56, resnet18, resnet9.",
    "architecture": "Which layers the heads share: hps (the trunk, read by every head), mmoe "
                    "(trunks as experts, a gate per head), cgc, ple (experts of each head's own "
                    "and shared ones, PLE in levels over the trunk's stages), cross_stitch (a "
                    "trunk per head, mixed between stages), mtan (a shared trunk, per-head "
                    "attention at each stage). cross_stitch, mtan and ple need a trunk in "
                    "stages (the ResNets). See README.",
    "architecture_options": "Hyperparameters of the --architecture, NAME=NUMBER,... e.g. "
                            "experts=4 for mmoe (default: the paper's).",
    "epochs": "Training epochs.",
    "batch_size": "Global batch size, split over the replicas of the strategy (0: chosen by "
                  "the dataset's size, 128 from 3,840 training images on).",
    "learning_rate": "Peak learning rate (0: chosen, 0.1 per 128 images of batch for SGD, "
                     "0.002 for AdamW).",
    "optimizer": "sgd (Nesterov momentum), adamw, or auto (AdamW below 12,800 training "
                 "images, SGD from there on).",
    "momentum": "SGD momentum.",
    "weight_decay": "Decoupled weight decay; biases and normalization are spared.",
    "schedule": "cosine (linear warm-up, then cosine to 0), onecycle or constant.",
    "batch_norm_momentum": "Momentum of the trunk's batch-normalization moving averages (0: "
                           "chosen, 1 - 1/steps per epoch, between 0.5 and 0.99).",
    "warmup_epochs": "Epochs of linear warm-up for the cosine schedule.",
    "loss_weights": "Per-head loss weights, e.g. fine=1.0,coarse=0.5; unnamed heads weigh 1. "
                    "They multiply the losses before the --weighting method sees them.",
    "weighting": "The multi-task method that turns the heads' losses into one update: "
                 "loss level (equal, uw, dwa, rlw, gls, famo) or gradient level (gradnorm, "
                 "mgda, pcgrad, cagrad, imtl, nash_mtl, aligned_mtl, upgrad). See README.",
    "weighting_options": "Hyperparameters of the --weighting method, NAME=NUMBER,... e.g. "
                         "c=0.4 for cagrad (default: the paper's).",
    "rep_grad": "Gradient-level methods: take each head's gradient with respect to the "
                "trunk's output (one small backward pass per head, then one through the "
                "trunk) instead of the trunk's variables (one backward pass per head).",
    "augment": "Pad-4 random crop and horizontal flip of training images (no flip where the "
               "heads name positions, as in multi_fashion).",
    "random_erasing": "With --augment: probability that a training image also gets one random "
                      "rectangle (2-40 % of its area, aspect ratio 0.3-3.3) replaced by noise "
                      "(Zhong et al. 2017).",
    "test_flip": "Test-time augmentation: also predict every test image mirrored left-right "
                 "and average the predictions (metrics.json keeps the figures of the plain "
                 "image alone under heads_single_view).",
    "test_shift": "Test-time augmentation: also predict every test image moved this many "
                  "pixels up, down, left and right (zero-filled) and average the predictions; "
                  "with --test_flip, their mirror images too (10 views at 1). 0: off.",
    "validation_size": "Training examples held out for validation (0 for none; -1: a tenth "
                       "of them, at most 5,000).",
    "seed": "Seed of initialization, shuffling and augmentation.",
    "deterministic": "Turn on TensorFlow op determinism (slower).",
    "jit_compile": "XLA: auto (on GPUs only: it was slower for every trunk on the CPU measured, "
                   "see benchmarks/README.md; Keras' own jit_compile='auto' would turn it on "
                   "on CPUs too), true or false.",
    "strategy": "auto (mirrored over the local GPUs when there are two or more, else default), "
                "default, mirrored (all local GPUs) or multi_worker (reads TF_CONFIG).",
    "mixed_precision": "16-bit compute, float32 weights: auto (where the hardware has a fast "
                       "path: GPUs of compute capability 7.0+, CPUs with AVX-512 BF16 or "
                       "AMX), true or false. float16 on GPUs, bfloat16 on CPUs; the heads "
                       "stay float32.",
    "losses": "Per-head loss overrides: HEAD=NAME (mse, mae, huber, binary_crossentropy, "
              "sparse_categorical_crossentropy; one that fits the head's kind) or "
              "HEAD=package.module:function, a loss(y_true, y_pred) returning one value per "
              "example, shape (batch,); y_true in the targets' units: class ids (batch,) "
              "against probabilities (batch, classes) for multiclass heads, (batch, 1) for "
              "binary and regression heads, (batch, labels) for multilabel ones.",
    "label_smoothing": "Label smoothing of the multiclass heads that use the default "
                       "cross-entropy, e.g. 0.1 (0: none): targets 1 - s on the label plus s "
                       "spread evenly over the classes.",
    "data_dir": "TensorFlow Datasets data directory (default: TFDS' own); for fashion_mnist, "
                "the folder of its four idx .gz files.",
    "csv": "--dataset=folder: CSV with an image-path column and one column per head.",
    "image_dir": "Folder of the images (folder: default the CSV's folder; utkface: required).",
    "image_column": "--dataset=folder: the CSV column of image paths.",
    "split_column": "--dataset=folder: the CSV column of train/validation/test, if present.",
    "tasks": "--dataset=folder or tfds:NAME: heads as [HEAD=]SOURCE:KIND[:CLASSES],... e.g. "
             "age:regression,gender:binary:male|female,race:multiclass:7. SOURCE: the CSV "
             "column, or the TFDS feature (attributes/Smiling; attributes/* for one head per "
             "sub-feature); HEAD: the head's name (default: SOURCE's last part). KIND: "
             "multiclass, binary, regression or multilabel; CLASSES: a count (labels 0..N-1) "
             "or names joined by | (a binary head's first name is 0).",
    "tasks_file": "--dataset=folder or tfds:NAME: JSON list of heads (name, kind, and "
                  "optionally source, classes, loss, weight).",
    "image_size": "folder, utkface, omniglot and tfds: images are resized to this many pixels square.",
    "test_fraction": "folder and utkface without a split column: share of images for testing.",
    "in_memory": "folder, utkface and tfds: auto (decode the images into memory when they take "
                 "at most 1 GiB decoded, else stream them from disk in tf.data), true or false.",
    "cache_dir": "Streamed folder and utkface images: a folder where they are decoded once "
                 "into TFRecord shards, read by later runs on the same images and split "
                 "over workers by file (without it, every epoch decodes the image files).",
    "archive": "Path of an original dataset archive (e.g. cifar-100-python.tar.gz); no download. "
               "omniglot: its zip files, joined by commas.",
    "checkpoint_minutes": "Within an epoch, save the run's state (to resume from) this often; "
                          "it is also saved after every epoch. 0: after epochs only. A "
                          "resumed run may change it.",
    "protocol": "How the heads train (mtl_keras/protocols): joint (every head every step), "
                "single_task (the head --task alone, on the images that have its label), "
                "task_sampling (each step one task's batch, drawn by --sampling) or standard "
                "(task families: one classifier over all their classes, scored per task).",
    "task": "--protocol=single_task: the head to train (a study trains one run per head).",
    "sampling": "--protocol=task_sampling: how each step's task is drawn: uniform, proportional "
                "to its training images (with --sampling_temperature), or annealed from "
                "proportional to nearly uniform over the epochs (Stickland & Murray 2019).",
    "sampling_temperature": "Proportional task sampling: probabilities proportional to "
                            "size ** (1 / T); 1 is proportional, larger is nearer uniform.",
    "synthetic": "Use made-up images shaped like the dataset (smoke runs).",
    "synthetic_examples": "Number of made-up training images with --synthetic.",
    "workdir": "Output folder. Default: runs/EXPERIMENT-TIMESTAMP.",
}
_ENUMS = set(config_lib.CHOICES)


def _define_flags():
    for name, default in _DEFAULTS.to_dict().items():
        if name in ("loss_weights", "losses", "weighting_options", "architecture_options"):
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
    values["weighting_options"] = config_lib.parse_numbers(
        values["weighting_options"], "--weighting_options", "c=0.4", "option")
    values["architecture_options"] = config_lib.parse_numbers(
        values["architecture_options"], "--architecture_options", "experts=4", "option")
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


def _start(config):
    """Checks the input, then writes the run's description into its locked folder.

    Returns:
      (the checked `train.Experiment`, the folder's `fileio.WorkdirLock`).
    """
    from mtl_keras import fileio  # noqa: PLC0415
    from mtl_keras.training import train  # noqa: PLC0415  (TensorFlow is slow to import)

    experiment = train.prepare(config, config.workdir or default_workdir(config))
    lock = fileio.WorkdirLock(experiment.workdir)
    lock.acquire()  # before writing: a second process into the folder stops here
    if not experiment.resumes:
        # config.json first: a folder holding it is a run that a rerun may resume.
        fileio.write_json(os.path.join(experiment.workdir, "config.json"),
                          {**experiment.config.to_dict(), "workdir": experiment.workdir})
        fileio.write_text(os.path.join(experiment.workdir, "flags.txt"), flags_text(config))
    return experiment, lock


def main(argv):
    """Runs one experiment from the parsed flags.

    Exit status: 0 done, 2 bad input (nothing written), 3 a head's loss became NaN or
    infinite, 130 and 143 stopped by SIGINT and SIGTERM (the state saved to resume from).
    """
    if len(argv) > 1:
        print(f"error: unexpected arguments {' '.join(argv[1:])}; flags look like --name=value.",
              file=sys.stderr)
        sys.exit(2)
    from mtl_keras.training import signals  # noqa: PLC0415

    stop = signals.StopRequest()
    stop.install()
    try:
        try:
            config = config_from_flags()
            startup.start_tensorflow_quietly()
            experiment, lock = _start(config)
        except errors.UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        from mtl_keras.training import train  # noqa: PLC0415

        try:
            train.train_and_evaluate(experiment, stop)
        finally:  # also when the run stops: a caller in this process may start another run
            lock.release()
    except errors.RunStopped as stopped:
        print(f"error: {stopped}" if isinstance(stopped, errors.Diverged) else f"{stopped}",
              file=sys.stderr, flush=True)
        sys.exit(stopped.exit_status)


def parse_flags(argv):
    """Parses the command line into FLAGS; returns the arguments left over.

    absl's own parser prints "FATAL Flags parsing error" and exits with status 1; a
    mistake in the flags is bad input like any other: one `error:` line, exit status 2.
    """
    try:
        return FLAGS(argv)
    except flags.CantOpenFlagFileError as error:
        cause = error.__context__  # the OSError that absl reworded
        message = (f"--flagfile={cause.filename} cannot be read ({cause.strerror}); check the path."
                   if isinstance(cause, OSError) and cause.filename else str(error))
    except (flags.Error, ValueError) as error:  # absl raises ValueError for --noBOOL=value
        message = f"{' '.join(str(error).split())} (--helpfull lists every flag)."
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


# Prediction's flags: a set of their own, since `mtl-keras predict` runs in this process,
# whose training --workdir means another thing.
PREDICT_FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "The run's folder (its model.keras is used), or a .keras "
                    "file.", flag_values=PREDICT_FLAGS)
flags.DEFINE_integer("top_k", 5, "Classes shown per multiclass head, most likely first (0: all).",
                     lower_bound=0, flag_values=PREDICT_FLAGS)
flags.DEFINE_bool("json", False, "Print one JSON document instead of text.",
                  flag_values=PREDICT_FLAGS)
flags.DEFINE_bool("help", False, "Show this help.", short_name="h", flag_values=PREDICT_FLAGS)


def parse_predict_flags(argv):
    """Parses `argv` into PREDICT_FLAGS; returns the image arguments.

    Raises:
      UserError: a bad flag, no --workdir, or no image.
    """
    PREDICT_FLAGS.unparse_flags()  # a second call in one process starts from the defaults again
    try:
        arguments = PREDICT_FLAGS(argv)[1:]
    except (flags.Error, ValueError) as error:
        message = " ".join(str(error).split())
        raise errors.UserError(f"{message} (--help lists the flags).") from None
    if PREDICT_FLAGS.help:
        return arguments
    if not PREDICT_FLAGS.workdir:
        raise errors.UserError("--workdir=RUN is required: a run's folder or a .keras file.")
    if not arguments:
        raise errors.UserError("Give one or more images or folders of images to predict.")
    return arguments


def predict_main(argv):
    """`python -m mtl_keras.predict ...`: returns the exit status (0, or 2 for any error)."""
    from mtl_keras import predict  # noqa: PLC0415

    try:
        arguments = parse_predict_flags(argv)
    except errors.UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if PREDICT_FLAGS.help:
        print(f"{predict.__doc__}\n{PREDICT_FLAGS.get_help()}")
        return 0
    return predict.predict_images(PREDICT_FLAGS.workdir, arguments, PREDICT_FLAGS.top_k,
                                  PREDICT_FLAGS.json)


def predict_console_main(argv=None):
    """`python -m mtl_keras.predict` and `mtl-keras predict`."""
    sys.exit(predict_main(sys.argv if argv is None else argv))


def console_main():
    """The `mtl-keras` console script: trains, or with `predict` first, predicts
    (`mtl-keras predict --workdir=RUN IMAGE...`, see mtl_keras/predict.py)."""
    # Training takes no positional argument, so a first word "predict" cannot be a run's.
    if sys.argv[1:2] == ["predict"]:
        predict_console_main([f"{sys.argv[0]} predict", *sys.argv[2:]])
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    console_main()
