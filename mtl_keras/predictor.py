"""A saved model that answers with names: `mtl_keras.load(path).predict(images)`.

`load` takes a run's folder (its `model.keras`) or any `.keras` file our runs saved,
copies included: the heads' names, kinds and class names are inside the model (its
`head_descriptions` layer, see `heads.descriptions`). Images of any size, grey
or colour, are resized and converted as the folder datasets' images are in training
(`data.images.convert`). Models saved before the descriptions existed still answer, with class
ids for names (`Predictor.note` says so).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras import tasks as tasks_lib
from mtl_keras.data.images import convert as images_lib
from mtl_keras.models import build  # noqa: F401  (registers the model's own layers, for loading)
from mtl_keras.heads import descriptions as head_descriptions

MODEL_FILE = "model.keras"
BATCH_SIZE = 64
# A multilabel head names the labels whose probability is above this.
MULTILABEL_THRESHOLD = 0.5
# Probabilities and values are rounded to this many decimals: float32 carries about 7
# significant digits, and the rest is noise in the JSON output.
DECIMALS = 6


def load(path):
    """Loads a run's model, or a .keras file, for prediction.

    Args:
      path: a run's folder (holding model.keras) or a .keras file.

    Returns:
      A `Predictor`.

    Raises:
      errors.UserError: nothing loadable is there.
    """
    model_file = find_model_file(os.fspath(path))
    return Predictor(load_model_file(model_file), model_file)


def load_model_file(model_file):
    """The Keras model in the .keras file `model_file`, uncompiled.

    Raises:
      errors.UserError: the file cannot be loaded (empty, edited, truncated, not Keras').
    """
    try:
        # compile=False: predicting needs no loss, and a head's custom loss module is
        # never imported on loading (see heads/losses.py).
        return keras.saving.load_model(model_file, compile=False)
    except Exception as error:  # pylint: disable=broad-except  (zip, HDF5, JSON, Keras errors)
        detail = (str(error).strip().splitlines() or ["no message"])[0][:200]
        raise errors.UserError(f"{model_file} cannot be loaded as a Keras model "
                               f"({type(error).__name__}: {detail}).") from None


def find_model_file(path):
    """The .keras file `path` names: itself, or the model.keras of a run's folder."""
    if os.path.isdir(path):
        model_file = os.path.join(path, MODEL_FILE)
        if os.path.isfile(model_file):
            return model_file
        last = os.path.join(path, "checkpoints", "last.keras")
        hint = (f"; the run has not finished: {last} is its last epoch's model"
                if os.path.isfile(last) else "; give a run's folder or a .keras file")
        raise errors.UserError(f"{path} holds no {MODEL_FILE}{hint}.")
    if not os.path.exists(path):
        raise errors.UserError(f"{path} does not exist; give a run's folder or a .keras file.")
    if not path.endswith(".keras"):
        raise errors.UserError(f"{path} is not a .keras file; give a run's folder or a .keras "
                               f"file.")
    return path


class Predictor:
    """A loaded model and its heads.

    Attributes:
      model: the Keras model (uint8 images in, a dict of per-head outputs out).
      tasks: the heads, a tuple of `tasks.Task`, in output order.
      path: the .keras file it was loaded from.
      note: "" for a model that carries its heads' descriptions; else one sentence saying
        that the classes are named by their ids.
    """

    def __init__(self, model, path=""):
        self.model = model
        self.path = path
        self.tasks, self.note = tasks_of(model, path or model.name)

    @property
    def image_shape(self):
        """H×W×C of the images the model takes (others are resized and converted)."""
        return tuple(self.model.inputs[0].shape[1:])

    def read(self, paths):
        """Decodes image files to the model's shape; an unreadable file does not stop the rest.

        Returns:
          (images uint8 N×H×W×C of the readable files, their paths, and a list of
          (path, one-sentence message) for the others).
        """
        images, read, problems = [], [], []
        for path in map(os.fspath, paths):
            if path.endswith(".npy") and os.path.isfile(path):
                try:
                    batch = self._batch(np.load(path, allow_pickle=False))
                except (OSError, ValueError, errors.UserError) as error:
                    problems.append((path, f"{path}: {error}"))
                    continue
                images += list(batch)
                read += [f"{path}[{index}]" for index in range(len(batch))]
                continue
            if not os.path.isfile(path):
                problems.append((path, f"{path} is not a file." if os.path.exists(path)
                                 else f"{path} does not exist."))
                continue
            try:
                images.append(images_lib.decode(path, *self.image_shape).numpy())
                read.append(path)
            except tf.errors.OpError:
                problems.append((path, f"{path} cannot be read as {images_lib.FORMATS}."))
        return self._stack(images), read, problems

    def probabilities(self, images):
        """The model's raw outputs: {head: N×units array} (probabilities, or values in
        the targets' units for regression heads)."""
        batch = self._batch(images)
        if not len(batch):
            return {task.name: np.zeros((0, task.units), np.float32) for task in self.tasks}
        outputs = self.model.predict(batch, batch_size=BATCH_SIZE, verbose=0)
        return {task.name: np.asarray(outputs[task.name], np.float32) for task in self.tasks}

    def predict(self, images, top_k=5):
        """Answers each image with every head's prediction, by name.

        Args:
          images: a path, a sequence of paths and uint8 arrays (H×W×C or H×W), or a
            uint8 array of images, N×H×W×C or N×H×W (grey, as `keras.datasets`' MNIST
            and Fashion-MNIST); any size, grey (1 channel), RGB or RGBA.
          top_k: classes listed per multiclass head, most likely first; None or 0: all.

        Returns:
          One dict per image, {head name: answer}; an answer is, by the head's kind,
          {"kind": "multiclass", "classes": [{"name", "probability"}, ...]},
          {"kind": "binary", "name": the class predicted, "probability": its probability,
          "probabilities": {each of the two classes: its probability}},
          {"kind": "regression", "value": in the targets' units}, or
          {"kind": "multilabel", "labels": [{"name", "probability"}, ...]} for the labels
          above 0.5, most likely first.

        Raises:
          errors.UserError: an image is missing or unreadable, or an array is not uint8
            images.
        """
        if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 0):
            raise errors.UserError(f"top_k is {top_k!r}; give a whole number, 1 or more "
                                   f"(0 or None: every class).")
        outputs = self.probabilities(images)
        count = len(next(iter(outputs.values())))
        return [{task.name: answer(task, outputs[task.name][index], top_k) for task in self.tasks}
                for index in range(count)]

    def _batch(self, images):
        """uint8 N×H×W×C of the model's shape from anything `predict` accepts."""
        if isinstance(images, (str, os.PathLike)):
            images = [images]
        if isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[-1] > 4:
            images = images[..., None]  # N×H×W: grey images (a last axis of 1-4: channels)
        if isinstance(images, np.ndarray) and images.ndim != 4:
            raise errors.UserError(
                f"An array of images is N×H×W or N×H×W×C; this one has shape {images.shape} "
                f"(one image: give [image] or image[None]).")
        if isinstance(images, np.ndarray):
            return images_lib.fit(_checked(images, (4,)), *self.image_shape).numpy()
        fitted = []
        for item in images:
            if isinstance(item, (str, os.PathLike)):
                read, _, problems = self.read([item])
                if problems:
                    raise errors.UserError(problems[0][1])
                fitted.append(read[0])
            else:
                item = _checked(np.asarray(item), (2, 3))
                item = item[..., None] if item.ndim == 2 else item
                fitted.append(images_lib.fit(item, *self.image_shape).numpy())
        return self._stack(fitted)

    def _stack(self, images):
        """A list of images of the model's shape as one N×H×W×C array (N may be 0)."""
        return np.stack(images) if images else np.zeros((0, *self.image_shape), np.uint8)


def _checked(array, dimensions):
    """`array` if it is uint8 images of one of the numbers of `dimensions`, with 1, 3 or 4
    channels (a 2-D array is one grey image)."""
    if array.dtype != np.uint8:
        raise errors.UserError(f"Images are uint8 arrays (0 to 255), not {array.dtype}; convert "
                               f"them (e.g. (image * 255).round().astype('uint8') from [0, 1]).")
    if array.ndim not in dimensions or array.ndim > 2 and array.shape[-1] not in (1, 3, 4):
        shapes = " or ".join({2: "H×W", 3: "H×W×C", 4: "N×H×W×C"}[size] for size in dimensions)
        raise errors.UserError(f"An image array of shape {array.shape} is not {shapes} with C "
                               f"1, 3 or 4.")
    return array


def answer(task, output, top_k=5):
    """One head's answer for one image (see `Predictor.predict`), from its output row: the
    head kind's, probabilities and values rounded to DECIMALS."""
    # A Task made in code may have no class names: its classes are then named by their ids.
    class_names = task.class_names or tuple(map(str, range(max(task.num_classes, 2))))
    return _rounded({"kind": task.kind,
                     **task.head_kind.answer(task, output, class_names, top_k)})


def _rounded(value):
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def tasks_of(model, where):
    """The heads of a loaded model, and a note ("" when the model describes them).

    Args:
      model: the loaded Keras model.
      where: its file, for messages.
    """
    tasks = head_descriptions.tasks_of(model)
    if tasks is None:  # no such layer: saved before models described their heads
        # The output dict keeps the heads' order; output_names is sorted.
        names = list(model.output) if isinstance(model.output, dict) else model.output_names
        tasks = tuple(_inferred_task(model, name) for name in names)
        return tasks, (f"{where} does not name its classes (it was saved by an older version of "
                       f"mtl_keras); classes are named by their ids.")
    if sorted(task.name for task in tasks) != sorted(model.output_names):
        raise errors.UserError(f"{where} describes the heads {[task.name for task in tasks]} "
                               f"but outputs {list(model.output_names)}; it was altered.")
    return tasks, ""


def _inferred_task(model, name):
    """The `Task` of output `name`, from its layer: Dense softmax (multiclass), sigmoid
    (binary with one unit, multilabel with more), or a Rescaling (regression)."""
    layer = model.get_layer(name)
    if isinstance(layer, keras.layers.Rescaling):
        return tasks_lib.Task(name, kind="regression")
    dense = isinstance(layer, keras.layers.Dense)
    activation, units = (layer.get_config()["activation"], layer.units) if dense else (None, 0)
    kind = {"softmax": "multiclass", "linear": "regression"}.get(activation)
    if activation == "sigmoid":
        kind = "binary" if units == 1 else "multilabel"
    if kind is None:
        raise errors.UserError(f"The output {name!r} is a {type(layer).__name__} layer, not a "
                               f"head of a model mtl_keras saved.")
    count = {"multiclass": units, "multilabel": units, "binary": 2}.get(kind, 1)
    names = tuple(str(index) for index in range(count)) if count > 1 else ()
    return tasks_lib.Task(name, num_classes=count, kind=kind, class_names=names)


def image_files(arguments):
    """The image files that command-line arguments name: each folder's images (JPEG, PNG,
    GIF, BMP by their suffix), sorted, and any other argument as given (`Predictor.read`
    reports the missing and unreadable ones, and reads a `.npy` file as a batch of images).

    Returns:
      (paths, a list of (folder, one-sentence message) for folders holding no image,
      a list of (file, one-sentence message) for the files of folders that are not images).
    """
    paths, problems, skipped = [], [], []
    for argument in map(os.fspath, arguments):
        if not os.path.isdir(argument):
            paths.append(argument)
            continue
        files = sorted(os.path.join(argument, name) for name in os.listdir(argument)
                       if os.path.isfile(os.path.join(argument, name)))
        found = [path for path in files if path.lower().endswith(images_lib.SUFFIXES)]
        skipped += [(path, f"{path} is not a {images_lib.FORMATS} file by its name; skipped.")
                    for path in files if path not in found]
        if not found:
            problems.append((argument, f"{argument} holds no {', '.join(images_lib.SUFFIXES)} "
                                       f"image."))
        paths += found
    return paths, problems, skipped


def to_text(path, heads):
    """One image's answers as a block of lines: the path, then one line per head."""
    lines = [path]
    for name, head in heads.items():
        if head["kind"] == "regression":
            text = f"{head['value']:.5g}"
        elif head["kind"] == "binary":
            text = f"{head['name']} {head['probability']:.3f}"
        else:
            named = head.get("classes", head.get("labels"))
            text = (", ".join(f"{item['name']} {item['probability']:.3f}" for item in named)
                    or f"(no label above {MULTILABEL_THRESHOLD})")
        lines.append(f"  {name}: {text}")
    return "\n".join(lines)
