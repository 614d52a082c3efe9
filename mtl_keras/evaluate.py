"""Evaluates a saved run: `python -m mtl_keras.evaluate --workdir=RUN [--split=test|validation]`.

Writes RUN/evaluation-SPLIT.json with the per-task metrics of the run's final model, the
same figures as its metrics.json, without training (mtl_keras/protocols/evaluation.py),
and prints them. Run it from where the run was started: its flags' paths are relative.
"""

import json
import os
import sys

from mtl_keras import startup  # noqa: I001  (first: it sets TensorFlow's log level)

from absl import flags  # noqa: E402

from mtl_keras import errors  # noqa: E402
from mtl_keras import run  # noqa: E402

EVALUATE_FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "The finished run's folder.", flag_values=EVALUATE_FLAGS)
flags.DEFINE_enum("split", "test", ["test", "validation"], "The split to evaluate.",
                  flag_values=EVALUATE_FLAGS)


def main(argv):
    """Returns the exit status: 0, or 2 for bad input."""
    from mtl_keras.protocols import evaluation  # noqa: PLC0415

    EVALUATE_FLAGS.unparse_flags()  # a second call in one process starts from the defaults
    try:
        EVALUATE_FLAGS(argv)
        workdir = EVALUATE_FLAGS.workdir
        if not workdir or not os.path.exists(os.path.join(workdir, "flags.txt")):
            raise errors.UserError("--workdir=RUN must be a run's folder (one holding flags.txt).")
        run.FLAGS.unparse_flags()
        run.parse_flags(["prog", f"--flagfile={os.path.join(workdir, 'flags.txt')}"])
        config = run.config_from_flags()
        startup.start_tensorflow_quietly()
        results = evaluation.evaluate_run(config, workdir, EVALUATE_FLAGS.split)
    except (errors.UserError, flags.Error) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(json.dumps({key: results[key] for key in ("heads", "tasks") if key in results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
