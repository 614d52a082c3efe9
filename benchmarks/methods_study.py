"""Every multi-task method x seeds on Multi-Fashion, one run after another; then a table.

    python benchmarks/methods_study.py [--folder=runs/methods_study] [--seeds=0,1,2]
                                       [--methods=equal,uw,...]

Each run is `python -m mtl_keras.run --flagfile=experiments/multi_fashion_methods.flags
--weighting=NAME [--rep_grad] --seed=S --workdir=FOLDER/NAME-seedS` (gradient-level methods
with --rep_grad). A run whose folder holds metrics.json is finished and skipped; an
unfinished one resumes from its saved state: rerunning the command continues where it
stopped. Runs go seed by seed, so that a study stopped early has whole seeds. At the end
(and with --table_only at any time) FOLDER/table.md gets, per method, each head's test
accuracy as mean ± std over the finished seeds and the wall time per run.
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mtl_keras import methods  # noqa: E402

flags.DEFINE_string("folder", "runs/methods_study", "The study's folder.")
flags.DEFINE_string("seeds", "0,1,2", "Comma-separated seeds.")
flags.DEFINE_string("methods", "", "Comma-separated methods (default: every registered one).")
flags.DEFINE_string("flagfile", "experiments/multi_fashion_methods.flags", "The runs' flagfile.")
flags.DEFINE_bool("table_only", False, "Only write the table of the finished runs.")
FLAGS = flags.FLAGS


def _runs():
    names = [n for n in FLAGS.methods.split(",") if n] or methods.METHODS.names()
    for seed in (int(s) for s in FLAGS.seeds.split(",")):
        for name in names:
            yield name, seed, os.path.join(FLAGS.folder, f"{name}-seed{seed}")


def _train(name, seed, workdir):
    command = [sys.executable, "-m", "mtl_keras.run", f"--flagfile={FLAGS.flagfile}",
               f"--weighting={name}", f"--seed={seed}", f"--workdir={workdir}"]
    if methods.METHODS.get(name).level == "gradient":
        command.append("--rep_grad")
    print(" ".join(command), flush=True)
    with open(os.path.join(FLAGS.folder, f"{name}-seed{seed}.log"), "a", encoding="utf-8") as log:
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def _diverged(name, seed):
    """Whether the run's log ends with the divergence line (exit status 3)."""
    path = os.path.join(FLAGS.folder, f"{name}-seed{seed}.log")
    if not os.path.exists(path):
        return False
    with open(path, encoding="utf-8") as log:
        return "became non-finite" in log.read()


def _table():
    results, diverged = {}, {}
    for name, seed, workdir in _runs():
        path = os.path.join(workdir, "metrics.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as metrics:
                results.setdefault(name, []).append(json.load(metrics))
        elif _diverged(name, seed):
            diverged.setdefault(name, []).append(seed)
    heads = sorted({head for runs in results.values() for head in runs[0]["heads"]})
    lines = ["| method | level | " + " | ".join(f"{head} accuracy" for head in heads)
             + " | seeds | wall seconds per run |", "|---" * (len(heads) + 4) + "|"]
    for name, runs in results.items():
        cells = []
        for head in heads:
            values = [run["heads"][head]["accuracy"] for run in runs]
            spread = f" ± {statistics.stdev(values):.4f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.4f}{spread}")
        seconds = [run["wall_seconds"] for run in runs]
        level = methods.METHODS.get(name).level + (", rep_grad" if methods.METHODS.get(
            name).level == "gradient" else "")
        lines.append(f"| {name} | {level} | " + " | ".join(cells)
                     + f" | {len(runs)} | {min(seconds):.0f}–{max(seconds):.0f} |")
    for name, seeds in diverged.items():
        lines.append(f"| {name} | diverged (exit 3) with seed(s) {', '.join(map(str, seeds))} |"
                     + " |" * (len(heads) + 2))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(FLAGS.folder, "table.md"), "w", encoding="utf-8") as table:
        table.write(text)
    print(text)


def main(argv):
    del argv
    os.makedirs(FLAGS.folder, exist_ok=True)
    if not FLAGS.table_only:
        for name, seed, workdir in _runs():
            if os.path.exists(os.path.join(workdir, "metrics.json")):
                continue
            status = _train(name, seed, workdir)
            if status:
                print(f"{name} seed {seed} exited with status {status}; see its .log", flush=True)
                if status in (130, 143):  # stopped by the user: stop the study too
                    return status
    _table()
    return 0


if __name__ == "__main__":
    app.run(main)
