"""`python -m mtl_keras.predict`: the same as `mtl-keras predict` (see mtl_keras/cli/predict.py)."""

if __name__ == "__main__":
    import sys

    from mtl_keras import cli

    sys.exit(cli.run_command("predict", sys.argv))
