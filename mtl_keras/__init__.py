"""mtl_keras: multi-task learning on images with Keras — one shared trunk, named heads.

The building blocks, Keras-native:
- `Task`: one head (name, kind, classes); `build_model(tasks, trunk, image_shape,
  architecture=...)`: a `MultiTaskModel` on a registered trunk or a Keras model of yours;
- `wrap(model, representation=None)`: your own functional model, as a `MultiTaskModel`;
- `MultiTaskModel.compile(loss=, metrics=, loss_weights=, weighting=...)` with dicts keyed
  by task name, then a plain `fit` trains with any registered method (`METHODS`);
  missing labels are sample weights of 0. `keras.saving.load_model` loads saved models
  after `import mtl_keras`.

Runs, as the command line makes them:
- `train(**settings)` → `Run` (workdir, test metrics, model): checks, trains (resuming a
  stopped run), tests and reports into a workdir;
- `load(path)`: a saved run's model that answers with names; `evaluate_run(workdir)`;
  `compare_runs(folders)`; `run_study(flagfiles, seeds, study_dir, ...)`;
- `load_dataset(name, **settings)`: a registered dataset's splits and heads.
"""

__version__ = "0.1.0"

from mtl_keras import startup as _startup  # noqa: I001  (first: TensorFlow starts quietly)

_startup.start_tensorflow_quietly()

# pylint: disable=wrong-import-position
from mtl_keras.config import Config  # noqa: E402
from mtl_keras.data import load as _load_data  # noqa: E402
from mtl_keras.data.source import DATASETS  # noqa: E402
from mtl_keras.methods import METHODS  # noqa: E402
from mtl_keras.models.architectures import ARCHITECTURES  # noqa: E402
from mtl_keras.models.build import build_model  # noqa: E402
from mtl_keras.models.trunks import TRUNKS  # noqa: E402
from mtl_keras.predictor import load  # noqa: E402
from mtl_keras.protocols import PROTOCOLS  # noqa: E402
from mtl_keras.studies import compare_runs  # noqa: E402
from mtl_keras.studies.evaluation import evaluate_run  # noqa: E402
from mtl_keras.studies.runner import study as run_study  # noqa: E402
from mtl_keras.tasks import Task  # noqa: E402
from mtl_keras.step.model import MultiTaskModel  # noqa: E402
from mtl_keras.step.wrap import wrap  # noqa: E402
from mtl_keras.training.runner import Run  # noqa: E402
from mtl_keras.training.runner import train  # noqa: E402


def load_dataset(name, **settings):
    """A registered dataset's splits and heads, as a run would load them.

    Args:
      name: a registered dataset (`DATASETS`), e.g. "fashion_mnist", or "tfds:NAME".
      **settings: the run settings the dataset reads (`data_dir`, `heads`, `csv`, `tasks`,
        `validation_size`, `seed`...).

    Returns:
      A `DataSource`: `.tasks` (the heads), `.train`, `.validation` (or None) and `.test`,
      each with `.images` (uint8, N×H×W×C), `.labels` ({head: labels}) and `.masks`
      ({head: 1 where the label is known, 0 where not}, or None when all are known).

    Raises:
      UserError: an unknown dataset or setting, or data that cannot be read.
    """
    return _load_data(Config(dataset=name, **settings))


__all__ = ["ARCHITECTURES", "Config", "DATASETS", "METHODS", "MultiTaskModel", "PROTOCOLS",
           "Run", "TRUNKS", "Task", "build_model", "compare_runs", "evaluate_run", "load",
           "load_dataset", "run_study", "train", "wrap"]
