"""mtl-keras predict --workdir=RUN IMAGE_OR_FOLDER... [--top_k=5] [--json]: answers images.

Prints, for each image (a folder stands for its JPEG, PNG, GIF and BMP files; its other
files are named in a `note:` line; a `.npy` file holds a batch of uint8 images, N×H×W or
N×H×W×C, answered as FILE[i]), every head's answer: a multiclass head's top-k classes
with their probabilities, a binary head's predicted class with its probability, a
regression head's value in the targets' units, a multilabel head's labels above 0.5.
`--json` prints one JSON document instead. A missing or unreadable image gets one
`error:` line on stderr and exit status 2 at the end; the other images are still answered. A missing or unloadable model: one `error:` line,
exit status 2. Also `python -m mtl_keras.predict`; from Python, `mtl_keras.load(RUN)`.
"""

import json
import sys

from absl import flags

from mtl_keras import errors
from mtl_keras import predictor
from mtl_keras.cli import common

FLAGS = common.new_flags()
flags.DEFINE_string("workdir", None, "The run's folder (its model.keras is used), or a .keras "
                    "file.", flag_values=FLAGS)
flags.DEFINE_integer("top_k", 5, "Classes shown per multiclass head, most likely first (0: all).",
                     lower_bound=0, flag_values=FLAGS)
flags.DEFINE_bool("json", False, "Print one JSON document instead of text.", flag_values=FLAGS)


def _predict(argv):
    arguments = common.parse(FLAGS, argv, __doc__, takes_arguments=True)
    if arguments is None:
        return 0
    if not FLAGS.workdir:
        raise errors.UserError("--workdir=RUN is required: a run's folder or a .keras file.")
    if not arguments:
        raise errors.UserError("Give one or more images or folders of images to predict.")
    loaded = predictor.load(FLAGS.workdir)
    if loaded.note:
        print(f"note: {loaded.note}", file=sys.stderr)
    paths, problems, skipped = predictor.image_files(arguments)
    for _, message in skipped:
        print(f"note: {message}", file=sys.stderr)
    images, read, unreadable = loaded.read(paths)
    problems += unreadable
    for _, message in problems:
        print(f"error: {message}", file=sys.stderr)
    answers = loaded.predict(images, top_k=FLAGS.top_k) if read else []
    if FLAGS.json:
        print(json.dumps({"model": loaded.path,
                          "images": [{"image": path, "heads": heads}
                                     for path, heads in zip(read, answers)],
                          "errors": [{"image": path, "error": message}
                                     for path, message in problems],
                          "skipped": [{"file": path, "reason": message}
                                      for path, message in skipped]}, indent=2))
    elif read:
        print("\n\n".join(predictor.to_text(path, heads) for path, heads in zip(read, answers)))
    return 2 if problems else 0


def main(argv):
    """Runs `mtl-keras predict` with `argv`; returns the exit status (0, or 2 for any error)."""
    return common.run(_predict, argv)
