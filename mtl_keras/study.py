"""Runs a study: `python -m mtl_keras.study --flagfile=experiments/studies/NAME.flags`.

Settings (training flagfiles) × seeds, one run after another into --study_dir, finished
runs skipped, unfinished ones resumed; it ends with comparison.md and comparison.png
there (see mtl_keras/protocols/study.py). Rerun the same command to continue a study.
"""

import sys

from mtl_keras import startup  # noqa: F401, I001  (first: it sets TensorFlow's log level)

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from mtl_keras import errors  # noqa: E402
from mtl_keras import run  # noqa: E402

STUDY_FLAGS = flags.FlagValues()
flags.DEFINE_list("settings", [], "Training flagfiles, one per setting; a single-task one without "
                  "--task becomes one run per head.", flag_values=STUDY_FLAGS)
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, each run for every setting.",
                  flag_values=STUDY_FLAGS)
flags.DEFINE_string("study_dir", None, "The study's folder: its runs and comparison.",
                    flag_values=STUDY_FLAGS)
flags.DEFINE_string("title", "", "The comparison's title.", flag_values=STUDY_FLAGS)
flags.DEFINE_bool("dry_run", False, "Print the runs, run nothing.", flag_values=STUDY_FLAGS)


def _setting_config(flagfile):
    """The Config a training flagfile describes, parsed as `mtl_keras.run` parses it."""
    run.FLAGS.unparse_flags()
    run.parse_flags(["prog", f"--flagfile={flagfile}"])
    return run.config_from_flags()


def _task_names(config):
    from mtl_keras import data  # noqa: PLC0415  (TensorFlow is slow to import)

    print(f"[study] reading {config.dataset} for its heads", flush=True)
    return [task.name for task in data.load(config).tasks]


def main(argv):
    """Plans and runs the study; exits with its status (2 for bad input)."""
    from mtl_keras.protocols import study  # noqa: PLC0415

    STUDY_FLAGS.unparse_flags()  # a second call in one process starts from the defaults
    try:
        STUDY_FLAGS(argv)
        if not STUDY_FLAGS.study_dir or not STUDY_FLAGS.settings:
            raise errors.UserError("--study_dir and --settings are required.")
        seeds = [int(seed) for seed in STUDY_FLAGS.seeds]
        settings = [(path, _setting_config(path)) for path in STUDY_FLAGS.settings]
        runs = study.plan(settings, seeds, STUDY_FLAGS.study_dir, _task_names)
    except (errors.UserError, flags.Error, ValueError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    if STUDY_FLAGS.dry_run:
        print("\n".join(" ".join(planned.command("python")) for planned in runs))
        return 0
    return study.run_study(runs, STUDY_FLAGS.study_dir, sys.executable, STUDY_FLAGS.title)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
