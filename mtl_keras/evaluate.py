"""`python -m mtl_keras.evaluate`: the same as `mtl-keras evaluate` (see mtl_keras/cli/evaluate.py)."""

if __name__ == "__main__":
    import sys

    from mtl_keras import cli

    sys.exit(cli.run_command("evaluate", sys.argv))
