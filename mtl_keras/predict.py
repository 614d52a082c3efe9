"""Entry point: `python -m mtl_keras.predict --workdir=RUN IMAGE_OR_FOLDER... [--top_k=5] [--json]`.

Also `mtl-keras predict ...`. Prints, for each image (a folder stands for its JPEG, PNG,
GIF and BMP files), every head's answer: a multiclass head's top-k classes with their
probabilities, a binary head's probability of its positive (second) class, a regression
head's value in the targets' units, a multilabel head's labels above 0.5. `--json` prints
one JSON document instead. A missing or unreadable image gets one `error:` line on stderr
and exit status 2 at the end; the other images are still answered. A missing or
unloadable model: one `error:` line, exit status 2.
"""

import json
import os
import sys

from mtl_keras import startup  # noqa: I001  (first: it sets TensorFlow's log level)
from absl import flags  # noqa: E402

from mtl_keras import errors  # noqa: E402

# Flags of their own, not absl's global ones: `mtl-keras predict` runs in the process that
# defined the training flags (mtl_keras.run), whose --workdir means another thing.
FLAGS = flags.FlagValues()
flags.DEFINE_string("workdir", None, "The run's folder (its model.keras is used), or a .keras "
                    "file.", flag_values=FLAGS)
flags.DEFINE_integer("top_k", 5, "Classes shown per multiclass head, most likely first (0: all).",
                     lower_bound=0, flag_values=FLAGS)
flags.DEFINE_bool("json", False, "Print one JSON document instead of text.", flag_values=FLAGS)
flags.DEFINE_bool("help", False, "Show this help.", short_name="h", flag_values=FLAGS)


def parse_flags(argv):
    """Parses `argv` into FLAGS; returns the image arguments. Raises UserError on a bad flag."""
    FLAGS.unparse_flags()  # a second call in one process starts from the defaults again
    try:
        arguments = FLAGS(argv)[1:]
    except (flags.Error, ValueError) as error:
        message = " ".join(str(error).split())
        raise errors.UserError(f"{message} (--help lists the flags).") from None
    if FLAGS.help:
        return arguments
    if not FLAGS.workdir:
        raise errors.UserError("--workdir=RUN is required: a run's folder or a .keras file.")
    if not arguments:
        raise errors.UserError("Give one or more images or folders of images to predict.")
    return arguments


def main(argv):
    """Predicts the images `argv` names; returns the exit status (0, or 2 for any error)."""
    try:
        arguments = parse_flags(argv)
        if FLAGS.help:
            print(f"{__doc__}\n{FLAGS.get_help()}")
            return 0
        startup.start_tensorflow_quietly()
        from mtl_keras import predictor  # noqa: PLC0415  (TensorFlow is slow to import)

        loaded = predictor.load(FLAGS.workdir)
    except errors.UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if loaded.note:
        print(f"note: {loaded.note}", file=sys.stderr)
    paths, problems = predictor.image_files(arguments)
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
                                     for path, message in problems]}, indent=2))
    elif read:
        print("\n\n".join(predictor.to_text(path, heads) for path, heads in zip(read, answers)))
    return 2 if problems else 0


def console_main(argv=None):
    """`python -m mtl_keras.predict` and `mtl-keras predict`."""
    sys.exit(main(sys.argv if argv is None else argv))


if __name__ == "__main__":
    console_main()
