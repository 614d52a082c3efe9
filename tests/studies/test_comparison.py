"""Δm on hand-made numbers, grouping runs by setting, the compare entry point, and the study
runner (with a stand-in for `python -m mtl_keras.run`, so that no training happens)."""

import json
import os
import stat
import subprocess
import sys

import pytest

from mtl_keras import config as config_lib
from mtl_keras import cli
from mtl_keras.studies import comparison
from mtl_keras.studies import planning
from mtl_keras.studies import runner as study

BASE_FLAGS = ["--dataset=omniglot", "--trunk=lenet", "--epochs=20", "--noaugment"]


def test_delta_m_by_hand():
    # Task a: accuracy 0.8 → 0.9 is +12.5 %; task b: MAE 2.0 → 1.5 (lower is better) is +25 %.
    assert comparison.delta_m({"a": {"accuracy": 0.9}, "b": {"mae": 1.5}},
                              {"a": {"accuracy": 0.8}, "b": {"mae": 2.0}}) == pytest.approx(18.75)
    # Metrics of a task are averaged first: a = (+12.5 - 5) / 2 = 3.75; b = -25; mean -10.625.
    assert comparison.delta_m({"a": {"accuracy": 0.9, "auc": 0.95}, "b": {"rmse": 2.5}},
                              {"a": {"accuracy": 0.8, "auc": 1.0}, "b": {"rmse": 2.0}}
                              ) == pytest.approx(-10.625)
    # A baseline of 0 or null has no relative change: that metric is left out.
    assert comparison.delta_m({"a": {"accuracy": 0.5, "auc": 0.9}},
                              {"a": {"accuracy": 0.0, "auc": None}}) is None


def _write_run(folder, protocol, seed, heads, task="", extra=(), seconds=10.0, tasks=None):
    folder.mkdir(parents=True)
    flags = [*BASE_FLAGS, *extra, f"--protocol={protocol}", f"--task={task}", f"--seed={seed}",
             "--sampling=uniform", f"--experiment=x{seed}"]
    (folder / "flags.txt").write_text("# comment\n" + "\n".join(flags) + "\n")
    (folder / "config.json").write_text(json.dumps({"protocol": protocol, "task": task,
                                                    "seed": seed, "sampling": "uniform"}))
    metrics = {"heads": heads, "wall_seconds": seconds}
    if tasks:
        metrics["tasks"] = tasks
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def study_dir(tmp_path):
    """Hand-made runs: baselines of seeds 0 and 1 (seed 1 lacks task b), joint of seeds 0, 1,
    standard of seed 0 (its per-task figures under "tasks"), and joint of another trunk."""
    base = {0: {"a": 0.80, "b": 0.50}, 1: {"a": 0.70}}
    for seed, tasks in base.items():
        for task, accuracy in tasks.items():
            _write_run(tmp_path / f"single-{seed}-{task}", "single_task", seed,
                       {task: {"accuracy": accuracy, "examples": 10}}, task=task, seconds=5.0)
    _write_run(tmp_path / "joint-0", "joint", 0, {"a": {"accuracy": 0.88}, "b": {"accuracy": 0.55}})
    _write_run(tmp_path / "joint-1", "joint", 1, {"a": {"accuracy": 0.77}, "b": {"accuracy": 0.5}})
    _write_run(tmp_path / "standard-0", "standard", 0, {"all_classes": {"accuracy": 0.6}},
               tasks={"a": {"accuracy": 0.4}, "b": {"accuracy": 0.5}})
    _write_run(tmp_path / "resnet-0", "joint", 0, {"a": {"accuracy": 0.9}, "b": {"accuracy": 0.9}},
               extra=["--trunk=resnet20"])
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.json").write_text("{}")
    return tmp_path


def _by_label(settings):
    return {setting.label: setting for setting in settings}


def test_runs_group_by_setting_and_compare_with_the_same_seeds_baselines(study_dir):
    finished, unfinished = comparison.find_runs([study_dir])
    assert len(finished) == 7 and unfinished == [str(study_dir / "unfinished")]
    settings = _by_label(comparison.group(finished))
    assert set(settings) == {"single task (baselines)", "joint (--trunk=lenet)",
                             "joint (--trunk=resnet20)", "standard (one classifier)"}
    baselines = settings["single task (baselines)"]
    assert len(baselines.runs) == 3 and baselines.delta_m == {}  # never compared with itself
    joint = settings["joint (--trunk=lenet)"]
    # Seed 0: a +10 %, b +10 %. Seed 1 has no baseline of b: left out and said so.
    assert joint.delta_m == {0: pytest.approx(10.0)}
    assert "seed 1 lacks b" in joint.missing
    # The standard run is scored on its per-task figures: a -50 %, b 0 %.
    assert settings["standard (one classifier)"].delta_m == {0: pytest.approx(-25.0)}
    other = settings["joint (--trunk=resnet20)"]
    assert other.delta_m == {} and "no single-task baselines" in other.missing


def test_a_run_of_any_method_is_compared_with_the_baselines(tmp_path):
    for task, accuracy in {"a": 0.8, "b": 0.5}.items():
        _write_run(tmp_path / f"single-{task}", "single_task", 0,
                   {task: {"accuracy": accuracy}}, task=task)
    _write_run(tmp_path / "upgrad", "joint", 0, {"a": {"accuracy": 0.88}, "b": {"accuracy": 0.55}},
               extra=["--weighting=upgrad", "--rep_grad", "--weighting_options=x=1"])
    # A flag written with an empty value (no options) is no difference worth naming.
    _write_run(tmp_path / "resnet", "joint", 0, {"a": {"accuracy": 0.9}, "b": {"accuracy": 0.9}},
               extra=["--trunk=resnet20", "--weighting_options="])
    settings = comparison.group(comparison.find_runs([tmp_path])[0])
    joint = {setting.label: setting for setting in settings if not setting.baseline}
    assert joint["joint (--rep_grad --trunk=lenet --weighting=upgrad --weighting_options=x=1)"
                 ].delta_m == {0: pytest.approx(10.0)}
    assert "no single-task baselines" in joint["joint (--trunk=resnet20)"].missing


def test_compare_writes_markdown_and_a_chart(study_dir, capsys):
    assert cli.run_command("compare", ["prog", str(study_dir), f"--out={study_dir / 'out'}"]) == 0
    text = (study_dir / "out" / "comparison.md").read_text()
    assert "| joint (--trunk=lenet) | 2 | 0,1 | +10.00 (one seed, no spread) (baselines incomplete" in text
    assert text.count(" | – |") == 4  # no history.csv: no epoch times
    assert "| single task (baselines) | 3 | 0,1 | the baselines |" in text
    assert "– (no single-task baselines of the same flags)" in text
    assert "| a | 0.7500 ± 0.0707 | 0.8250 ± 0.0778 |" in text  # accuracy of task a, by setting
    assert (study_dir / "out" / "comparison.png").stat().st_size > 10_000
    assert "Unfinished runs" in text and text in capsys.readouterr().out
    assert cli.run_command("compare", ["prog", str(study_dir / "nowhere")]) == 2


FAKE_RUN = """#!{python}
import json, os, sys
arguments = dict(a[2:].split("=", 1) for a in sys.argv[3:])
workdir = arguments["workdir"]
os.makedirs(workdir, exist_ok=True)
lines = [line for line in open(arguments["flagfile"]) if line.startswith("--")]
lines += ["--seed=" + arguments["seed"], "--task=" + arguments.get("task", "")]
open(os.path.join(workdir, "flags.txt"), "w").write("".join(line.strip() + "\\n" for line in lines))
protocol = [l for l in lines if l.startswith("--protocol=")][0].strip().split("=")[1]
task = arguments.get("task", "")
json.dump({{"protocol": protocol, "task": task, "seed": int(arguments["seed"])}},
          open(os.path.join(workdir, "config.json"), "w"))
heads = {{task: {{"accuracy": 0.5}}}} if task else {{"a": {{"accuracy": 0.6}}, "b": {{"accuracy": 0.6}}}}
json.dump({{"heads": heads}}, open(os.path.join(workdir, "metrics.json"), "w"))
open(os.path.join(os.path.dirname(workdir), "calls.txt"), "a").write(os.path.basename(workdir) + "\\n")
"""


def test_a_study_runs_what_is_unfinished_and_ends_with_the_comparison(tmp_path):
    fake = tmp_path / "fake_python"
    fake.write_text(FAKE_RUN.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    settings = []
    for protocol in ("single_task", "joint"):
        flagfile = tmp_path / f"{protocol}.flags"
        flagfile.write_text(f"--dataset=x\n--protocol={protocol}\n")
        settings.append((str(flagfile), config_lib.Config(protocol=protocol)))
    folder = tmp_path / "study"
    runs = planning.plan(settings, [0, 1], str(folder), lambda config: ["a", "b"])
    assert [os.path.basename(r.workdir) for r in runs] == [
        "single_task-seed0-a", "single_task-seed0-b", "joint-seed0",
        "single_task-seed1-a", "single_task-seed1-b", "joint-seed1"]
    (folder / "joint-seed1").mkdir(parents=True)  # a run stopped before: resumed, not skipped
    (folder / "joint-seed1" / "config.json").write_text("{}")
    subprocess.run(runs[2].command(str(fake)), check=True)  # finished before: skipped
    (folder / "calls.txt").unlink()
    assert study.run_study(runs, str(folder), str(fake), log=lambda line: None,
                           reuse_process=False) == 0
    assert (folder / "calls.txt").read_text().split() == [
        "single_task-seed0-a", "single_task-seed0-b", "single_task-seed1-a",
        "single_task-seed1-b", "joint-seed1"]
    record = json.loads((folder / "joint-seed1" / "study_run.json").read_text())
    assert record["command"][-1] == f"--workdir={folder / 'joint-seed1'}"
    assert record["process_seconds"] >= 0 and "cores" in record["machine"]
    assert "| joint | 2 | 0,1 |" in (folder / "comparison.md").read_text()
    # Everything finished: a second call runs nothing.
    assert study.run_study(runs, str(folder), str(fake), log=lambda line: None) == 0
    assert len((folder / "calls.txt").read_text().split()) == 5
