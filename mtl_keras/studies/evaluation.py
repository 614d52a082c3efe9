"""The metrics of a saved run's model on its test or validation split, without training.

The run's data is loaded again from its own flags (flags.txt) and turned into what the
run trained on by its protocol; the final model (model.keras) then predicts the split
through the same pipeline and test-time views as the run's own test, so that the test
split gives the figures of the run's metrics.json.
"""

import os

from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras import predictor
from mtl_keras import flagfiles
from mtl_keras import size_rule
from mtl_keras.data import pipeline
from mtl_keras.models import build  # noqa: F401  (registers the model's layers)
from mtl_keras.training import preparation
from mtl_keras.training import train

SPLITS = ("test", "validation")


def evaluate_run(workdir, split="test"):
    """Evaluates the model saved in the run folder `workdir` on `split` and writes
    RUN/evaluation-SPLIT.json. Run it from where the run was started: its flags' paths
    are relative.

    Args:
      workdir: the run's folder (its flags.txt and model.keras).
      split: "test" or "validation".

    Returns:
      The written dict: dataset, split, heads (and tasks for the standard protocol), as
      in metrics.json.

    Raises:
      UserError: not a run's folder, no model.keras in it or one that cannot be loaded,
        an unknown split, or no validation split.
    """
    if not workdir or not os.path.exists(os.path.join(workdir, "flags.txt")):
        raise errors.UserError("--workdir=RUN must be a run's folder (one holding flags.txt).")
    config = flagfiles.read_flagfile(os.path.join(workdir, "flags.txt"))
    run_dir = workdir
    model_path = os.path.join(run_dir, "model.keras")
    if split not in SPLITS:
        raise errors.UserError(f"--split={split} is not one of {', '.join(SPLITS)}.")
    if not os.path.exists(model_path):
        raise errors.UserError(f"{run_dir} holds no model.keras: the run has not finished.")
    model = predictor.load_model_file(model_path)  # a damaged one: refused before the data
    parts = preparation.check_parts(config)
    data = parts.protocol.training_data(data_lib.load(config), config)
    if getattr(data, split) is None:
        raise errors.UserError(f"The run in {run_dir} has no {split} split.")
    config = size_rule.apply(config, data)
    experiment = preparation.Experiment(config, None, data, {}, run_dir,
                                        parts=parts)
    images = pipeline.make_dataset(getattr(data, split), config.batch_size, False)
    results, _ = train.evaluate_test(model, experiment, images, split)
    results = {"dataset": data.name, "split": split, "synthetic": data.synthetic, **results}
    fileio.write_json(os.path.join(run_dir, f"evaluation-{split}.json"), results)
    return results
