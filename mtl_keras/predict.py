"""Entry point: `python -m mtl_keras.predict --workdir=RUN IMAGE_OR_FOLDER... [--top_k=5] [--json]`.

Also `mtl-keras predict ...`; its flags are read in `mtl_keras.run`. Prints, for each image (a folder stands for its JPEG, PNG,
GIF and BMP files), every head's answer: a multiclass head's top-k classes with their
probabilities, a binary head's probability of its positive (second) class, a regression
head's value in the targets' units, a multilabel head's labels above 0.5. `--json` prints
one JSON document instead. A missing or unreadable image gets one `error:` line on stderr
and exit status 2 at the end; the other images are still answered. A missing or
unloadable model: one `error:` line, exit status 2.
"""

import json
import sys

from mtl_keras import startup  # noqa: I001  (first: it sets TensorFlow's log level)
from mtl_keras import errors  # noqa: E402


def predict_images(workdir, arguments, top_k=5, as_json=False):
    """Predicts the images and folders `arguments` name with the model of `workdir` and
    prints the answers; returns the exit status (0, or 2 for any error).

    Args:
      workdir: a run's folder (its model.keras is used) or a .keras file.
      arguments: image files and folders of images.
      top_k: classes shown per multiclass head (0: all).
      as_json: print one JSON document instead of text.
    """
    try:
        startup.start_tensorflow_quietly()
        from mtl_keras import predictor  # noqa: PLC0415  (TensorFlow is slow to import)

        loaded = predictor.load(workdir)
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
    answers = loaded.predict(images, top_k=top_k) if read else []
    if as_json:
        print(json.dumps({"model": loaded.path,
                          "images": [{"image": path, "heads": heads}
                                     for path, heads in zip(read, answers)],
                          "errors": [{"image": path, "error": message}
                                     for path, message in problems]}, indent=2))
    elif read:
        print("\n\n".join(predictor.to_text(path, heads) for path, heads in zip(read, answers)))
    return 2 if problems else 0


if __name__ == "__main__":
    from mtl_keras import run  # noqa: PLC0415  (its flags: the only module that reads them)

    run.predict_console_main()
