"""`python -m mtl_keras.run`: the same as `mtl-keras train` (see mtl_keras/cli/train.py)."""

if __name__ == "__main__":
    import sys

    from mtl_keras import cli

    sys.exit(cli.run_command("train", sys.argv))
