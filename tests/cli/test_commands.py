"""The command line: `mtl-keras` and its five commands, each with its own flags and --help; the
package's import graph (no cycle, no library module importing a command); a study steered by
training flags and grids."""

import ast
import os
import pathlib
import shlex
import subprocess
import sys

import pytest

import mtl_keras
from mtl_keras import cli
from mtl_keras.studies import planning
from mtl_keras.studies import runner

PACKAGE = pathlib.Path(mtl_keras.__file__).resolve().parent
REPO = PACKAGE.parent
# Each command's help names these of its own flags.
OWN_FLAGS = {
    "train": ["--dataset", "--weighting", "--epochs", "--workdir", "--flagfile", "--recipe"],
    "predict": ["--workdir", "--top_k", "--json"],
    "evaluate": ["--workdir", "--split"],
    "compare": ["--out", "--title"],
    "study": ["--settings", "--seeds", "--study_dir", "--grid", "--dry_run", "--epochs"],
}


@pytest.mark.parametrize("command", sorted(OWN_FLAGS))
def test_every_command_has_help_naming_its_flags(command, capsys):
    assert set(OWN_FLAGS) == set(cli.COMMANDS)
    assert cli.main(["mtl-keras", command, "--help"]) == 0
    out = capsys.readouterr().out
    for flag in OWN_FLAGS[command]:
        assert f"{flag}:" in out or f"{flag}=" in out or f"--[no]{flag[2:]}" in out, (flag, out)
    others = {flag for name, flags in OWN_FLAGS.items() if name != command for flag in flags}
    if command in ("predict", "evaluate", "compare"):
        assert "--weighting" not in out and "--settings" not in others & set(out.split())


def test_mtl_keras_alone_lists_the_commands_quietly():
    environment = {key: value for key, value in os.environ.items()
                   if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "mtl_keras"], capture_output=True, text=True,
                            timeout=120, env={**environment, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0
    for name in cli.COMMANDS:
        assert f"  {name} " in result.stdout
    assert result.stderr == ""  # no TensorFlow start-up line


def test_an_unknown_command_is_one_error_line(capsys):
    assert cli.main(["mtl-keras", "fit"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown command 'fit'; choose one of train")


def _imports(path):
    """The mtl_keras modules that `path` imports at module level or in functions."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("mtl_keras")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if base.startswith("mtl_keras"):
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if _module_path(candidate) else base)
    return {name for name in found if name != module}


def _module_path(name):
    path = PACKAGE.parent.joinpath(*name.split("."))
    return (path.with_suffix(".py") if path.with_suffix(".py").exists()
            else path / "__init__.py" if (path / "__init__.py").exists() else None)


def _graph():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        graph[module.removesuffix(".__init__")] = {
            name for name in _imports(path) if _module_path(name)}
    return graph


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    assert "mtl_keras.step.model" in graph["mtl_keras"]  # the scanner sees imports
    # A cycle through a package's __init__ and its own submodules is how packages are built:
    # a module importing its parent package is left out of the search.
    edges = {module: {name for name in names if not module.startswith(name + ".")}
             for module, names in graph.items()}
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for name in sorted(edges.get(module, ())):
            if state.get(name) == "open":
                cycles.append(path[path.index(name):] + [name] if name in path else [module, name])
            elif name not in state:
                visit(name, path + [name])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_library_module_imports_a_command_or_reads_global_flags():
    graph = _graph()
    importers = {module for module, names in graph.items()
                 if any(name.startswith("mtl_keras.cli.") for name in names)}
    assert importers <= {"mtl_keras.cli"} | {f"mtl_keras.cli.{name}" for name in cli.COMMANDS}
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "flags.FLAGS" not in text and "app.run(" not in text, path
        if "from absl import flags" in text:
            assert path.parent.name == "cli", path


def _flagfile(tmp_path, name, protocol="joint"):
    path = tmp_path / f"{name}.flags"
    path.write_text(f"--dataset=cifar100\n--synthetic\n--protocol={protocol}\n--epochs=30\n")
    return str(path)


def test_a_study_overrides_every_setting_and_expands_grids(tmp_path):
    flagfiles = [_flagfile(tmp_path, "joint"), _flagfile(tmp_path, "single", "single_task")]
    settings = planning.expand(flagfiles, {"epochs": 1, "augment": False},
                             planning.parse_grid(["weighting=equal,upgrad",
                                                "learning_rate=0.05,0.1"]))
    # The baselines take the grid's learning rates but not its methods (one task).
    assert len(settings) == 4 + 2
    assert {setting.config.epochs for setting in settings} == {1}
    assert {(s.config.weighting, s.config.learning_rate) for s in settings} == {
        (w, r) for w in ("equal", "upgrad") for r in (0.05, 0.1)}
    runs = planning.plan(settings, [0, 1], str(tmp_path / "study"), lambda config: ["fine", "coarse"])
    assert len(runs) == 2 * (4 + 2 * 2)
    names = {os.path.basename(planned.workdir) for planned in runs}
    assert "joint-epochs=1-noaugment-weighting=upgrad-learning_rate=0.1-seed1" in names
    assert "single-epochs=1-noaugment-learning_rate=0.05-seed0-coarse" in names
    command = runs[0].command(sys.executable)
    assert command[:3] == [sys.executable, "-m", "mtl_keras.run"]
    assert "--epochs=1" in command and "--noaugment" in command
    # The printed line is the command: a shell splits it back into the same arguments.
    assert shlex.split(shlex.join(command)) == command


def test_a_study_of_methods_trains_its_baselines_once_without_the_methods_flags(tmp_path):
    flagfiles = [_flagfile(tmp_path, "joint"), _flagfile(tmp_path, "single", "single_task")]
    # --rep_grad with the single-task run's one method (equal) would be refused.
    settings = planning.expand(flagfiles, {"rep_grad": True},
                             planning.parse_grid(["weighting=mgda,upgrad"]))
    joint = [s for s in settings if s.config.protocol == "joint"]
    single, = [s for s in settings if s.config.protocol == "single_task"]
    assert {s.config.weighting for s in joint} == {"mgda", "upgrad"}
    assert all(s.config.rep_grad for s in joint)
    assert (single.config.weighting, single.config.rep_grad, single.arguments) == ("equal", False, ())
    assert single.label == ""


@pytest.mark.parametrize("grid,message", [
    (["weighting"], "is not NAME=VALUE,VALUE"),
    (["seed=1,2"], "which is not a training flag the study may vary"),
    (["colour=red"], "which is not a training flag the study may vary"),
    (["epochs=1", "epochs=2"], "twice"),
])
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(ValueError, match=message):
        planning.parse_grid(grid)


def test_a_study_refuses_a_bad_value_or_a_per_run_flag_before_running(tmp_path, capsys):
    flagfile = _flagfile(tmp_path, "joint")
    study_dir = tmp_path / "study"
    common = ["mtl-keras", "study", f"--settings={flagfile}", f"--study_dir={study_dir}"]
    assert cli.main([*common, "--seed=3"]) == 2
    assert "give the seeds as --seeds" in capsys.readouterr().err
    assert cli.main([*common, "--grid=weighting=equal,nonsense"]) == 2
    assert "Unknown weighting method 'nonsense'" in capsys.readouterr().err
    assert cli.main([*common, "--strategy=multi_worker"]) == 2
    assert "add --noreuse_process" in capsys.readouterr().err
    assert not study_dir.exists()
    assert cli.main([*common, "--epochs=1", "--seeds=0,1", "--dry_run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(shlex.quote(sys.executable)) for line in lines)
    assert all("--epochs=1" in line for line in lines)


# The package's layers, upper first: a module imports its own layer and those below only.
LAYERS = [("cli",), ("studies",), ("training",), ("flagfiles", "predictor"), ("protocols",),
          ("reporting", "models"), ("data", "step"), ("methods",), ("config",),
          ("heads", "tasks"), ("size_rule", "registry", "fileio", "flag_help", "recipes"),
          ("errors", "startup")]


def _layer(module):
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__", "run", "predict", "evaluate", "compare",
                                       "study"):
        return -1  # the package's front door and the `python -m` aliases: above everything
    return next(index for index, names in enumerate(LAYERS) if parts[1] in names)


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(f"{module} imports {name}" for module, names in _graph().items()
                    for name in names if _layer(name) < _layer(module))
    assert upward == []


# What each part of data/ builds on besides itself (mtl_keras/README.md draws it): the loaders
# take their heads and labels from labels/ and their images from images/, which know nothing
# of the datasets nor of each other; the splits (source) are below them all.
DATA_PARTS = {"datasets": {"labels", "images", "source"}, "pipeline": {"images"},
              "labels": {"source"}, "images": {"source"}, "source": set(), "fingerprint": set(),
              "kept": set()}


def test_no_data_module_imports_a_part_of_data_it_does_not_build_on():
    graph = _graph()
    assert "mtl_keras.data.labels.hierarchical" in graph["mtl_keras.data.datasets.cifar"]
    modules = [module for module in graph if module.startswith("mtl_keras.data.")]
    assert {module.split(".")[2] for module in modules} == set(DATA_PARTS)
    wrong = sorted(f"{module} imports {name}" for module in modules for name in graph[module]
                   if name.startswith("mtl_keras.data.")
                   and name.split(".")[2] not in DATA_PARTS[module.split(".")[2]]
                   | {module.split(".")[2]})
    assert wrong == []
