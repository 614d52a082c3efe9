"""`python -m mtl_keras.study`: the same as `mtl-keras study` (see mtl_keras/cli/study.py)."""

if __name__ == "__main__":
    import sys

    from mtl_keras import cli

    sys.exit(cli.run_command("study", sys.argv))
