"""Entry point: `python -m mtl_keras.run --flagfile=experiments/cifar100_mtl.flags`.

The only module that reads absl flags. It turns them into a frozen `Config`, checks
the inputs and loads the data (`preparation.prepare`), locks the workdir, writes config.json
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
from mtl_keras import flag_help  # noqa: E402

_DEFAULTS = config_lib.Config()
_ENUMS = set(config_lib.CHOICES)


def _define_flags():
    for name, default in _DEFAULTS.to_dict().items():
        if name in ("loss_weights", "losses", "weighting_options", "architecture_options"):
            flags.DEFINE_string(name, "", flag_help.RUN[name])
        elif name in _ENUMS:
            flags.DEFINE_enum(name, default, config_lib.CHOICES[name], flag_help.RUN[name])
        elif isinstance(default, bool):
            flags.DEFINE_bool(name, default, flag_help.RUN[name])
        elif isinstance(default, int):
            flags.DEFINE_integer(name, default, flag_help.RUN[name])
        elif isinstance(default, float):
            flags.DEFINE_float(name, default, flag_help.RUN[name])
        else:
            flags.DEFINE_string(name, default, flag_help.RUN[name])


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
      (the checked `preparation.Experiment`, the folder's `fileio.WorkdirLock`).
    """
    from mtl_keras import fileio  # noqa: PLC0415
    from mtl_keras.training import preparation  # noqa: PLC0415  (TensorFlow is slow to import)

    experiment = preparation.prepare(config, config.workdir or default_workdir(config))
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


def _parse_own(flag_values, argv, hint=""):
    """Parses `argv` into `flag_values`, one command's own flags, from their defaults (a
    second call in one process starts again); returns the arguments left over.

    Raises:
      UserError: a bad flag.
    """
    flag_values.unparse_flags()
    try:
        return flag_values(argv)[1:]
    except (flags.Error, ValueError) as error:
        raise errors.UserError(f"{' '.join(str(error).split())}{hint}") from None


def parse_predict_flags(argv):
    """Parses `argv` into PREDICT_FLAGS; returns the image arguments.

    Raises:
      UserError: a bad flag, no --workdir, or no image.
    """
    arguments = _parse_own(PREDICT_FLAGS, argv, " (--help lists the flags).")
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


def config_from_flagfile(path):
    """The `Config` a training flagfile describes, parsed as a run parses its flags."""
    FLAGS.unparse_flags()
    parse_flags(["prog", f"--flagfile={path}"])
    return config_from_flags()


EVALUATE_FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "The finished run's folder.", flag_values=EVALUATE_FLAGS)
flags.DEFINE_enum("split", "test", ["test", "validation"], "The split to evaluate.",
                  flag_values=EVALUATE_FLAGS)


def evaluate_main(argv):
    """`python -m mtl_keras.evaluate --workdir=RUN [--split=...]`: returns the exit status
    (0, or 2 for bad input)."""
    from mtl_keras import evaluate  # noqa: PLC0415

    try:
        _parse_own(EVALUATE_FLAGS, argv)
        workdir = EVALUATE_FLAGS.workdir
        if not workdir or not os.path.exists(os.path.join(workdir, "flags.txt")):
            raise errors.UserError("--workdir=RUN must be a run's folder (one holding flags.txt).")
        config = config_from_flagfile(os.path.join(workdir, "flags.txt"))
    except errors.UserError as error:
        return errors.refuse(error)
    return evaluate.evaluate_saved_run(config, workdir, EVALUATE_FLAGS.split)


COMPARE_FLAGS = flags.FlagValues()
flags.DEFINE_string("out", None, "Folder for comparison.md and comparison.png (default: the "
                    "first folder given).", flag_values=COMPARE_FLAGS)
flags.DEFINE_string("title", "", "The comparison's title.", flag_values=COMPARE_FLAGS)


def compare_main(argv):
    """`python -m mtl_keras.compare FOLDER ... [--out=DIR]`: returns the exit status (0, or 2
    for bad input)."""
    from mtl_keras import compare  # noqa: PLC0415

    try:
        folders = _parse_own(COMPARE_FLAGS, argv)
    except errors.UserError as error:
        return errors.refuse(error)
    return compare.compare_runs(folders, COMPARE_FLAGS.out, COMPARE_FLAGS.title)


STUDY_FLAGS = flags.FlagValues()
flags.DEFINE_list("settings", [], "Training flagfiles, one per setting; a single-task one without "
                  "--task becomes one run per head.", flag_values=STUDY_FLAGS)
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, each run for every setting.",
                  flag_values=STUDY_FLAGS)
flags.DEFINE_string("study_dir", None, "The study's folder: its runs and comparison.",
                    flag_values=STUDY_FLAGS)
flags.DEFINE_string("title", "", "The comparison's title.", flag_values=STUDY_FLAGS)
flags.DEFINE_bool("dry_run", False, "Print the runs, run nothing.", flag_values=STUDY_FLAGS)


def study_main(argv):
    """`python -m mtl_keras.study --flagfile=...`: plans and runs the study; returns its
    exit status (2 for bad input)."""
    from mtl_keras import study  # noqa: PLC0415

    try:
        _parse_own(STUDY_FLAGS, argv)
        if not STUDY_FLAGS.study_dir or not STUDY_FLAGS.settings:
            raise errors.UserError("--study_dir and --settings are required.")
        seeds = [int(seed) for seed in STUDY_FLAGS.seeds]
        settings = [(path, config_from_flagfile(path)) for path in STUDY_FLAGS.settings]
    except (errors.UserError, ValueError) as error:
        return errors.refuse(error)
    return study.plan_and_run(settings, seeds, STUDY_FLAGS.study_dir, STUDY_FLAGS.title,
                              STUDY_FLAGS.dry_run)


def console_main():
    """The `mtl-keras` console script: trains, or with `predict` first, predicts
    (`mtl-keras predict --workdir=RUN IMAGE...`, see mtl_keras/predict.py)."""
    # Training takes no positional argument, so a first word "predict" cannot be a run's.
    if sys.argv[1:2] == ["predict"]:
        predict_console_main([f"{sys.argv[0]} predict", *sys.argv[2:]])
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    console_main()
