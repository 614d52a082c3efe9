"""A study: settings (flagfiles) × grid × seeds, run into one folder, then compared.

Each run is `python -m mtl_keras.run --flagfile=SETTING [OVERRIDES] [GRID VALUES] --seed=S
[--task=T] --workdir=STUDY/NAME`, named SETTING[-NAME=VALUE...]-seedS[-T] (the overrides and
grid values in the name). The overrides (training flags given to the study) apply to every
setting; a grid (`weighting=equal,upgrad`) multiplies every setting by its values, one run per
combination (`planning`). A single-task setting without --task becomes one run per head of
its dataset; it takes neither overrides nor grid values of the method's flags (--weighting,
--weighting_options, --rep_grad: one task trains alike under every method), so a grid of
methods trains its baselines once. A run whose folder holds metrics.json is finished and
skipped; an unfinished one resumes from its saved state (the run's own resume): rerunning
the study's command continues where it stopped. Runs start seed by seed, one at a time or
`parallel` at a time (each then with its share of the cores and its output in
STUDY/logs/NAME.log), so that a study stopped early has whole seeds. They train in
`parallel` long-lived worker processes (`processes`, `worker`), each run as its command
line would, so that Python and TensorFlow start once per worker and a run of the data the
worker loaded last takes its decoded images (`reuse_process=False`: a process per run, the
command line itself). A run that fails (status 1, 2, 3) is recorded as failed and its
worker trains the next one; a worker that dies is replaced, its run failed with the status
of its process; SIGINT or SIGTERM to the study stops every running run with its state
saved. Beside each finished run, study_run.json records its command line, its wall time
(`process_seconds`: from its start to its status, in its worker or its own process,
summed over resumed attempts), the machine, the package versions and the git commit of
the code of every attempt (`records`).

A run that a folder under the search roots (default: the study folder's parent, e.g. runs/;
`reuse_from`) already holds finished by the same command, on the same data, by the same
code, is copied into the study instead of trained (`reuse=False`: always train), and said
so: "[study] run i of n: NAME: reused from PATH (same flags, data and code)". The same
command: the same flags but how a run is kept (--workdir, --experiment,
--checkpoint_minutes, --progress_seconds; --max_loss_growth no looser); the same data: its
data.json equals the fingerprint of the data loaded here as the run would load it; the
same code: one git commit without uncommitted changes for every attempt of the run and for
this study, and the same versions of Python, TensorFlow, Keras and NumPy. A run still being
written (its folder locked, its saved state not yet removed) is never taken; when a
candidate is refused, one line says why. `reuse` has the details.
"""

import os
import shlex
import sys
import time

from mtl_keras import errors
from mtl_keras import flagfiles as flagfiles_lib
from mtl_keras.studies import comparison
from mtl_keras.studies import planning
from mtl_keras.studies import processes
from mtl_keras.studies import report as comparison_report
from mtl_keras.studies import reuse as reuse_lib
from mtl_keras.training import progress

class StudyClock:
    """The study's elapsed time and, from the runs done so far, the time left."""

    def __init__(self, to_run):
        self.to_run, self.ran = to_run, 0
        self.start = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.start

    def done(self):
        self.ran += 1

    def describe(self):
        """"elapsed 12:03, about 24:06 left" (the mean run so far times the runs left)."""
        elapsed = self.elapsed()
        if not self.ran:
            return f"elapsed {progress.duration(elapsed)}, time left known after the first run"
        left = elapsed / self.ran * (self.to_run - self.ran)
        return f"elapsed {progress.duration(elapsed)}, about {progress.duration(left)} left"


def run_study(runs, study_dir, python, title="", log=print, parallel=1, reuse=None,
              reuse_process=True):
    """Runs the unfinished runs, `parallel` at a time, then writes the comparison of every
    run in `study_dir`. Returns the exit status: 0, 1 when a run failed, or the status of
    a run stopped by a signal (the study stops with it).

    `reuse`: a `reuse.Reuse` that copies a run finished elsewhere instead of training it,
    or None. `reuse_process`: train the runs in `parallel` long-lived worker processes
    (`processes`), else each in a process of its own."""
    failed, reused, clock = [], [], StudyClock(sum(not planned.finished for planned in runs))

    def unfinished():
        for number, planned in enumerate(runs, 1):
            heading = f"run {number} of {len(runs)}: {os.path.basename(planned.workdir)}"
            if planned.finished:
                log(f"[study] {heading}: finished, skipped")
                continue
            if reuse is not None and reuse.take(planned, heading):
                reused.append(planned)
                clock.to_run -= 1  # the time left counts the runs still to train
                continue
            log(f"[study] {heading} ({clock.describe()})")
            yield planned

    def finished(planned, status):
        clock.done()
        if status in (130, 143):
            raise KeyboardInterrupt if status == 130 else processes.Terminated
        if status:
            failed.append(f"{os.path.basename(planned.workdir)} (exit status {status})")

    status = processes.run_all(unfinished(), python, parallel, log, finished, reuse_process)
    if status:
        log(f"[study] stopped; rerun the same command to resume from {study_dir}.")
        return status
    log(f"[study] {clock.ran} runs done in {progress.duration(clock.elapsed())}"
        + (f", {len(reused)} reused" if reused else ""))
    finished_runs, unfinished_runs = comparison.find_runs([study_dir])
    if finished_runs:
        log(comparison_report.write(comparison.group(finished_runs), study_dir, unfinished_runs,
                                    title))
        log(f"[study] written {os.path.join(study_dir, 'comparison.md')} and comparison.png")
    if failed:
        log(f"[study] failed: {', '.join(failed)}")
    return 1 if failed else 0


def _task_names(config, log):
    from mtl_keras import data  # noqa: PLC0415  (the datasets: only single-task settings need them)

    log(f"[study] reading {config.dataset} for its heads")
    return [task.name for task in data.load(config).tasks]


def study(flagfiles, seeds, study_dir, overrides=None, grid=None, title="", dry_run=False,
          python=None, log=print, parallel=None, reuse=True, reuse_from=None,
          reuse_process=True):
    """Plans the study's runs and runs the unfinished ones, then writes the comparison.

    Args:
      flagfiles: training flagfiles, one per setting.
      seeds: the seeds, each run for every setting.
      study_dir: the study's folder.
      overrides: {field: value}: training settings applied to every run (`epochs=1`).
      grid: {field: [values as text]}: every setting is run with each combination.
      title: the comparison's title.
      dry_run: print the runs' command lines, run nothing.
      python: the interpreter of the runs (default: this one).
      log: where progress lines go.
      parallel: how many runs train at once, each with its share of the cores and its
        output in STUDY_DIR/logs/RUN.log when more than one; None: one per usable core, at
        most 4, one with an NVIDIA GPU (`processes.default_parallel`) or for
        --strategy=multi_worker runs.
      reuse: copy a run finished elsewhere by the same command, on the same data, with the
        same code, instead of training it (`studies.reuse`).
      reuse_from: the folders searched for such runs (default: the study folder's parent).
      reuse_process: train the runs in `parallel` long-lived worker processes, each keeping
        the last dataset it decoded for the next run of the same data; False: each run in a
        process of its own. The runs and their figures are the same either way.

    Returns:
      The exit status: 0, 1 when a run failed, or 130/143 when a signal stopped it.

    Raises:
      UserError: no study folder or setting, a --reuse_from folder that does not exist, or a
        setting, override or grid value that a run would refuse (nothing is run then).
    """
    if not study_dir or not flagfiles:
        raise errors.UserError("--study_dir and --settings are required.")
    if not seeds:
        raise errors.UserError("--seeds names no seed; give e.g. --seeds=0,1,2.")
    if parallel is not None and parallel < 1:
        raise errors.UserError(f"--parallel={parallel}: give how many runs train at once, 1 "
                               f"or more.")
    missing = [folder for folder in reuse_from or () if not os.path.isdir(folder)]
    if missing:
        raise errors.UserError(f"--reuse_from={','.join(missing)}: no such folder; give folders "
                               f"that hold finished runs.")
    python = python or sys.executable
    settings = planning.expand(flagfiles, overrides, grid)
    clusters = any(setting.config.strategy == "multi_worker" for setting in settings)
    if reuse_process and clusters:
        # Its strategy must exist before TensorFlow starts, which a worker has done already.
        raise errors.UserError("--strategy=multi_worker runs need a process each; add "
                               "--noreuse_process.")
    if parallel is None:  # a cluster's runs share its TF_CONFIG (its ports): one at a time
        parallel = 1 if clusters else processes.default_parallel()
    runs = planning.plan(settings, seeds, study_dir, lambda config: _task_names(config, log))
    if dry_run:
        log("\n".join(shlex.join(planned.command(python)) for planned in runs))
        return 0
    at_once = f", {parallel} at a time (--parallel)" if parallel > 1 else ""
    log(f"[study] {len(runs)} runs ({len(settings)} settings × {len(seeds)} seeds) into "
        f"{study_dir}{at_once}")
    if overrides:  # the comparison says that its runs are not the flagfiles' own
        title = f"{title or study_dir} ({' '.join(flagfiles_lib.to_arguments(overrides))})"
    roots = reuse_from or [os.path.dirname(os.path.abspath(study_dir))]
    finder = reuse_lib.Reuse(roots, log) if reuse else None
    return run_study(runs, study_dir, python, title, log, parallel, finder, reuse_process)
