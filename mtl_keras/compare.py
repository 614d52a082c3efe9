"""`python -m mtl_keras.compare`: the same as `mtl-keras compare` (see mtl_keras/cli/compare.py)."""

if __name__ == "__main__":
    import sys

    from mtl_keras import cli

    sys.exit(cli.run_command("compare", sys.argv))
