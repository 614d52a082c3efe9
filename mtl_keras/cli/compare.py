"""mtl-keras compare RUN_OR_STUDY_DIR... [--out=DIR] [--title=TEXT]: compares finished runs.

Groups the runs by setting, reports per-task metrics as mean ± std over seeds and Δm
against the single-task baselines of the same seeds, prints the Markdown and writes
comparison.md and comparison.png into --out (default: the first folder given). Also
`python -m mtl_keras.compare`; from Python, `mtl_keras.compare_runs([...])`.
"""

from absl import flags

from mtl_keras.cli import common
from mtl_keras import studies

FLAGS = common.new_flags()
flags.DEFINE_string("out", None, "Folder for comparison.md and comparison.png (default: the "
                    "first folder given).", flag_values=FLAGS)
flags.DEFINE_string("title", "", "The comparison's title.", flag_values=FLAGS)


def _compare(argv):
    folders = common.parse(FLAGS, argv, __doc__, takes_arguments=True)
    if folders is None:
        return 0
    print(studies.compare_runs(folders, FLAGS.out, FLAGS.title))
    return 0


def main(argv):
    """Runs `mtl-keras compare` with `argv`; returns the exit status (0, or 2 for bad input)."""
    return common.run(_compare, argv)
