"""mtl-keras study --settings=FLAGFILE,... [--seeds=0,1,2] --study_dir=DIR [TRAINING FLAGS]
[--grid=NAME=V1,V2 ...]: settings × grid × seeds, then their comparison.

Trains one run per (setting, grid combination, seed[, task]) into --study_dir, N at a time
(--parallel=N; by default one per usable core, at most 4, one on a machine with an NVIDIA
GPU or for --strategy=multi_worker runs), each printed as a command line that can be pasted
into a shell. The runs train in N long-lived worker processes, each run exactly as its
command line would, its decoded data kept for the worker's next run of the same data;
--noreuse_process starts a process per run instead. Finished runs are skipped and stopped
ones resumed, so rerunning the command continues a study. A run that a folder under
--reuse_from (default: the study folder's parent) holds finished by the same command, on the
same data, by the same code (a git commit without uncommitted changes) is copied instead of
trained, in a line "run i of n: NAME: reused from PATH (same flags, data and code)";
--noreuse always trains. Training flags given here (`--epochs=1`) apply to every run, after
its flagfile; each --grid multiplies the settings by its values
(`--grid=weighting=equal,upgrad --grid=learning_rate=0.05,0.1`: four runs per setting and
seed; single-task baselines take no method flags, --weighting, --weighting_options or
--rep_grad). It ends with comparison.md and comparison.png in --study_dir. Also `python -m
mtl_keras.study`; from Python, `mtl_keras.run_study(...)`.

Exit status: 0, 1 when a run failed, 2 bad input (nothing run), 130/143 when stopped.
"""

from absl import flags

from mtl_keras import errors
from mtl_keras.cli import training_flags
from mtl_keras.cli import common
from mtl_keras.studies import planning
from mtl_keras.studies import runner

FLAGS = common.new_flags()
flags.DEFINE_list("settings", [], "Training flagfiles, one per setting; a single-task one without "
                  "--task becomes one run per head.", flag_values=FLAGS)
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds, each run for every setting.",
                  flag_values=FLAGS)
flags.DEFINE_string("study_dir", None, "The study's folder: its runs and comparison.",
                    flag_values=FLAGS)
flags.DEFINE_string("title", "", "The comparison's title.", flag_values=FLAGS)
flags.DEFINE_bool("dry_run", False, "Print the runs' command lines, run nothing.",
                  flag_values=FLAGS)
flags.DEFINE_integer("parallel", None, "How many runs train at once, each with its share of "
                     "the cores and its output in STUDY_DIR/logs/RUN.log when more than one "
                     "(default: one per usable core, at most 4; 1 on a machine with an NVIDIA "
                     "GPU or for --strategy=multi_worker runs).", flag_values=FLAGS)
flags.DEFINE_bool("reuse", True, "Copy a run that another folder holds finished by the same "
                  "command (the flags but how a run is kept), on the same data (data.json), by "
                  "the same git commit without uncommitted changes and the same package "
                  "versions, instead of training it; --noreuse always trains.", flag_values=FLAGS)
flags.DEFINE_bool("reuse_process", True, "Train the runs in long-lived worker processes (one, or "
                  "N with --parallel=N), each run as its command line would, so that Python and "
                  "TensorFlow start once per worker and a run of the same data as the one before "
                  "it in its worker takes its decoded images; --noreuse_process starts a process "
                  "per run.", flag_values=FLAGS)
flags.DEFINE_list("reuse_from", [], "The folders searched for finished runs to reuse, at any "
                  "depth (default: the study folder's parent).", flag_values=FLAGS)
flags.DEFINE_multi_string("grid", [], "NAME=V1,V2,...: run every setting with each value of the "
                          "training flag NAME (several --grid: every combination).",
                          flag_values=FLAGS)
# The training flags, without defaults: those given override every setting's flagfile.
training_flags.define(FLAGS, defaults=False)


def _study(argv):
    hint = "give the settings as --settings=FLAGFILE,..."
    if common.parse(FLAGS, argv, __doc__, hint=hint) is None:
        return 0
    try:
        seeds = [int(seed) for seed in FLAGS.seeds]
    except ValueError:
        raise errors.UserError(f"--seeds={','.join(FLAGS.seeds)}: give whole numbers, e.g. "
                               f"--seeds=0,1,2.") from None
    return runner.study(FLAGS.settings, seeds, FLAGS.study_dir, training_flags.given(FLAGS),
                        planning.parse_grid(FLAGS.grid), FLAGS.title, FLAGS.dry_run,
                        parallel=FLAGS.parallel, reuse=FLAGS.reuse, reuse_from=FLAGS.reuse_from,
                        reuse_process=FLAGS.reuse_process)


def main(argv):
    """Runs `mtl-keras study` with `argv`; returns the exit status."""
    return common.run(_study, argv)
