"""mtl-keras evaluate --workdir=RUN [--split=test|validation]: a saved run's metrics.

Writes RUN/evaluation-SPLIT.json with the per-task metrics of the run's final model, the
same figures as its metrics.json, without training, and prints them to 4 significant digits
(a progress bar, or a line every --progress_seconds of the run, while it predicts). Run it from where
the run was started: its flags' paths are relative. Also `python -m mtl_keras.evaluate`;
from Python, `mtl_keras.evaluate_run(RUN)`.
"""

import os

from absl import flags

from mtl_keras.cli import common
from mtl_keras.reporting import report
from mtl_keras.studies import evaluation

FLAGS = common.new_flags()
flags.DEFINE_string("workdir", None, "The finished run's folder.", flag_values=FLAGS)
flags.DEFINE_enum("split", "test", list(evaluation.SPLITS), "The split to evaluate.",
                  flag_values=FLAGS)


def _evaluate(argv):
    if common.parse(FLAGS, argv, __doc__, hint="give the run as --workdir=RUN") is None:
        return 0
    results = evaluation.evaluate_run(FLAGS.workdir, FLAGS.split)
    print(f"{FLAGS.split} split of {FLAGS.workdir} (every figure in "
          f"{os.path.join(FLAGS.workdir, f'evaluation-{FLAGS.split}.json')}):")
    print("\n".join(report.metric_lines(results)))
    if "tasks" in results:
        print("per task: " + report.heads_text(results["tasks"]))
    return 0


def main(argv):
    """Runs `mtl-keras evaluate` with `argv`; returns the exit status (0, or 2 for bad input)."""
    return common.run(_evaluate, argv)
