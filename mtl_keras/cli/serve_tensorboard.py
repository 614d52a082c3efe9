"""`python -m mtl_keras.cli.serve_tensorboard [TENSORBOARD FLAGS]` (`make tensorboard`):
TensorBoard, with TensorFlow started first without its C++ start-up lines."""

import sys

from mtl_keras import startup


def main(argv):
    """Serves TensorBoard with `argv` (argv[0]: the program); returns its exit status."""
    startup.start_tensorflow_quietly()
    from tensorboard import main as tensorboard_main  # noqa: PLC0415  (after TensorFlow)

    sys.argv = ["tensorboard", *argv[1:]]
    return tensorboard_main.run_main() or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
