"""Evaluates a saved run: `python -m mtl_keras.evaluate --workdir=RUN [--split=test|validation]`.

Writes RUN/evaluation-SPLIT.json with the per-task metrics of the run's final model, the
same figures as its metrics.json, without training (mtl_keras/protocols/evaluation.py),
and prints them. Run it from where the run was started: its flags' paths are relative.
Its flags are read in `mtl_keras.run`.
"""

import json
import sys

from mtl_keras import startup  # noqa: I001  (first: it sets TensorFlow's log level)
from mtl_keras import errors  # noqa: E402


def evaluate_saved_run(config, workdir, split):
    """Evaluates the run in `workdir` (whose flags gave `config`) on `split` and prints the
    figures; returns the exit status (0, or 2 for bad input)."""
    from mtl_keras.protocols import evaluation  # noqa: PLC0415

    try:
        startup.start_tensorflow_quietly()
        results = evaluation.evaluate_run(config, workdir, split)
    except errors.UserError as error:
        return errors.refuse(error)
    print(json.dumps({key: results[key] for key in ("heads", "tasks") if key in results}, indent=2))
    return 0


if __name__ == "__main__":
    from mtl_keras import run  # noqa: PLC0415  (its flags: the only module that reads them)

    sys.exit(run.evaluate_main(sys.argv))
