"""Studies: runs compared by setting (Δm against single-task runs), and the study runner.

- comparison.py: finished runs read and grouped by setting, Δm;
- report.py: the comparison as comparison.md and comparison.png;
- evaluation.py: a saved run's metrics on its test or validation split, without training;
- planning.py: the settings (flagfiles × grid, with the study's overrides) and the runs,
  seed by seed;
- runner.py: the planned runs trained (one after another, or N at a time) into one folder,
  then compared;
- processes.py: where the runs train: long-lived worker processes, or a process per run;
- worker.py: `python -m mtl_keras.studies.worker`, a worker that trains runs one after
  another, each as its command line would;
- records.py: the study's record of each run (study_run.json: wall time, machine, versions,
  the commit of every attempt);
- reuse.py: runs finished elsewhere by the same command, data and code, copied instead of
  trained.
"""

import os

from mtl_keras import errors
from mtl_keras.studies import comparison
from mtl_keras.studies import report


def compare_runs(folders, out=None, title=""):
    """Compares the finished runs in `folders` (runs, or folders holding runs).

    Writes comparison.md and comparison.png into `out` (default: the first folder).

    Returns:
      The comparison as Markdown.

    Raises:
      UserError: no folder, a missing folder, no finished run in them, a run's file
        damaged, or `out` a file.
    """
    if not folders:
        raise errors.UserError("Give one or more run folders (or folders holding runs).")
    missing = [folder for folder in folders if not os.path.isdir(folder)]
    if missing:
        raise errors.UserError(f"{', '.join(missing)}: no such folder.")
    if out and os.path.exists(out) and not os.path.isdir(out):
        raise errors.UserError(f"--out={out} is a file; give a folder (comparison.md and "
                               f"comparison.png are written into it).")
    finished, unfinished = comparison.find_runs(folders)
    if not finished:
        raise errors.UserError(f"No finished run (a folder with metrics.json and flags.txt) "
                               f"in {', '.join(folders)}.")
    return report.write(comparison.group(finished), out or folders[0], unfinished, title)
