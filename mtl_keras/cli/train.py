"""mtl-keras train [--recipe=NAME | --flagfile=FILE] [--name=value ...]: trains one run.

Checks the settings and the data, locks the workdir (default runs/EXPERIMENT-TIMESTAMP),
writes config.json, data.json (the data's fingerprint) and flags.txt into it (unless it
resumes an unfinished run of the same settings and data there), trains, tests and writes
model.keras, metrics.json, report.png and TensorBoard logs. `--recipe=NAME` runs one of the
package's recipes (the flagfiles of experiments/, installed with it; `--recipe` alone lists
them). Also `python -m mtl_keras.run`; from Python, `mtl_keras.train(...)`.

Exit status: 0 done, 2 bad input (one `error:` line, nothing written), 3 a head's loss
diverged, 130 and 143 stopped by SIGINT and SIGTERM (the state saved: rerun to resume).
"""

from absl import flags

from mtl_keras import recipes
from mtl_keras.cli import training_flags
from mtl_keras.cli import common
from mtl_keras.training import runner

FLAGS = common.new_flags()
training_flags.define(FLAGS)
flags.DEFINE_string("recipe", None, "A recipe of the package (its flags; those after it "
                    "override them, as after --flagfile). --recipe alone lists them.",
                    flag_values=FLAGS)


def _train(argv):
    argv = recipes.expand(argv)
    if argv is None:
        print(recipes.listing())
        return 0
    if common.parse(FLAGS, argv, __doc__) is None:
        return 0
    runner.train(training_flags.to_config(FLAGS))
    return 0


def main(argv):
    """Runs `mtl-keras train` with `argv` (argv[0]: the program); returns the exit status."""
    return common.run(_train, argv)
