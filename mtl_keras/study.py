"""Runs a study: `python -m mtl_keras.study --flagfile=experiments/studies/NAME.flags`.

Settings (training flagfiles) × seeds, one run after another into --study_dir, finished
runs skipped, unfinished ones resumed; it ends with comparison.md and comparison.png
there (see mtl_keras/protocols/study.py). Rerun the same command to continue a study.
Its flags are read in `mtl_keras.run`.
"""

import sys

from mtl_keras import startup  # noqa: F401, I001  (first: it sets TensorFlow's log level)
from mtl_keras import errors  # noqa: E402


def _task_names(config):
    from mtl_keras import data  # noqa: PLC0415  (TensorFlow is slow to import)

    print(f"[study] reading {config.dataset} for its heads", flush=True)
    return [task.name for task in data.load(config).tasks]


def plan_and_run(settings, seeds, study_dir, title="", dry_run=False):
    """Plans the runs of `settings` ([(flagfile, Config)]) × `seeds` in `study_dir` and runs
    them (or, with `dry_run`, prints their commands); returns the exit status (2 for bad
    input)."""
    from mtl_keras.protocols import study  # noqa: PLC0415

    try:
        runs = study.plan(settings, seeds, study_dir, _task_names)
    except (errors.UserError, ValueError) as error:
        return errors.refuse(error)
    if dry_run:
        print("\n".join(" ".join(planned.command("python")) for planned in runs))
        return 0
    return study.run_study(runs, study_dir, sys.executable, title)


if __name__ == "__main__":
    from mtl_keras import run  # noqa: PLC0415  (its flags: the only module that reads them)

    sys.exit(run.study_main(sys.argv))
