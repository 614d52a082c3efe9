"""Compares finished runs: `python -m mtl_keras.compare RUN_DIR_OR_STUDY_DIR ... [--out=DIR]`.

Groups the runs by setting, reports per-task metrics as mean ± std over seeds and Δm
against the single-task baselines of the same seeds (mtl_keras/protocols/comparison.py),
prints the Markdown and writes comparison.md and comparison.png into --out (default:
the first folder given). Its flags are read in `mtl_keras.run`.
"""

import os
import sys

from mtl_keras import startup  # noqa: I001  (first: it sets TensorFlow's log level)
from mtl_keras import errors  # noqa: E402


def compare_runs(folders, out=None, title=""):
    """Compares the finished runs in `folders` (runs, or folders holding runs), writes the
    comparison into `out` (default: the first folder) and prints it; returns the exit
    status (0, or 2 for bad input)."""
    startup.start_tensorflow_quietly()  # the protocols package imports TensorFlow
    from mtl_keras.protocols import comparison  # noqa: PLC0415
    from mtl_keras.reporting import comparison_report  # noqa: PLC0415

    try:
        if not folders:
            raise errors.UserError("Give one or more run folders (or folders holding runs).")
        missing = [folder for folder in folders if not os.path.isdir(folder)]
        if missing:
            raise errors.UserError(f"{', '.join(missing)}: no such folder.")
        finished, unfinished = comparison.find_runs(folders)
        if not finished:
            raise errors.UserError(f"No finished run (a folder with metrics.json and flags.txt) "
                                   f"in {', '.join(folders)}.")
    except errors.UserError as error:
        return errors.refuse(error)
    print(comparison_report.write(comparison.group(finished), out or folders[0], unfinished,
                                  title))
    return 0


if __name__ == "__main__":
    from mtl_keras import run  # noqa: PLC0415  (its flags: the only module that reads them)

    sys.exit(run.compare_main(sys.argv))
