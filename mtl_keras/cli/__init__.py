"""The command line: `mtl-keras COMMAND [--flags]`, one module per command.

Each command module reads its own flags (an `absl.flags.FlagValues` of its own, never the
global FLAGS) into plain values and calls the library; `--help` lists them. Nothing
imports a command module but this dispatcher, which finds them by name.
"""

import importlib
import sys

# name → one-line description; the module mtl_keras.cli.<name> has main(argv) → exit status.
COMMANDS = {
    "train": "train a run into its workdir (resumes a stopped one), then test it and report",
    "predict": "answer images with a saved run's heads: top-k classes, probabilities, values",
    "evaluate": "a saved run's metrics on its test or validation split, without training",
    "compare": "finished runs grouped by setting: per-task metrics and Δm against single-task runs",
    "study": "settings × grid × seeds, run one after another into one folder, then compared",
}


def usage():
    """The text `mtl-keras` alone prints."""
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: mtl-keras COMMAND [--flags]   (mtl-keras COMMAND --help lists its flags)",
             "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "Also python -m mtl_keras.run (train), python -m mtl_keras.predict, "
              "python -m mtl_keras.evaluate, python -m mtl_keras.compare, python -m mtl_keras.study."]
    return "\n".join(lines)


def run_command(name, argv):
    """Runs command `name` with `argv` (argv[0]: the program's name); returns its exit status."""
    module = importlib.import_module(f"mtl_keras.cli.{name}")
    return module.main(argv)


def main(argv=None):
    """`mtl-keras COMMAND ...`: returns the exit status (2 for an unknown command; 0 for none, after listing them)."""
    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name = argv[1]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; choose one of {', '.join(COMMANDS)} "
              f"(mtl-keras alone lists them).", file=sys.stderr)
        return 2
    return run_command(name, [f"{argv[0]} {name}", *argv[2:]])


def console_main():
    """The `mtl-keras` console script."""
    sys.exit(main())
