"""Runs the Fashion-MNIST recipe and its fine-only baseline over several seeds; writes a table.

    python benchmarks/fashion_mnist_seeds.py [--seeds=0,1,2] [--out=runs/benchmarks] [EXTRA FLAGS]

Runs one training at a time (they would slow each other down), each through
`python -m mtl_keras.run`, then prints a Markdown table of test accuracy (mean ± std over
seeds) and wall time per run (the whole process, start-up included), and the difference the
extra heads make to the fine head. The table is also written to OUT/fashion_mnist.md; every
run's folder stays in OUT. A folder that already holds a finished run of the same command and
flags (the flagfile's comments aside) is reused, not trained again.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

RECIPES = {"three heads (fine+mid+coarse)": "experiments/fashion_mnist_mtl.flags",
           "fine only (baseline)": "experiments/fashion_mnist_fine_only.flags"}
HEADS = ("fine", "mid", "coarse")
GOAL_ACCURACY, GOAL_MINUTES = 0.945, 15.0


def _run(flagfile, seed, workdir, extra):
    """Trains one seed into `workdir`, or reuses the run there if it had the same command.

    Returns the run's metrics.json, with `process_seconds`: the wall time of the whole
    `python -m mtl_keras.run` process (start-up and data loading included).
    """
    command = [sys.executable, "-m", "mtl_keras.run", f"--flagfile={flagfile}",
               f"--seed={seed}", f"--workdir={workdir}", *extra]
    with open(flagfile, encoding="utf-8") as flags:  # the flags, not the header's comments
        lines = [line.strip() for line in flags if line.strip() and not line.lstrip().startswith("#")]
    recipe = {"command": command[1:], "flags": lines}
    stamp_path = os.path.join(workdir, "benchmark_recipe.json")
    if os.path.exists(os.path.join(workdir, "metrics.json")):
        stamp = _read_json(stamp_path) or {}
        if {key: stamp.get(key) for key in recipe} != recipe or "process_seconds" not in stamp:
            sys.exit(f"error: {workdir} holds a run of another recipe or command; remove it "
                     f"or pass another --out.")
        print(f"reusing {workdir} (same recipe; remove the folder to run it again)", flush=True)
    else:
        print("$", " ".join(command), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        stamp = {**recipe, "process_seconds": round(time.perf_counter() - start, 1)}
        with open(stamp_path, "w", encoding="utf-8") as stamp_file:
            json.dump(stamp, stamp_file, indent=2)
    return {**_read_json(os.path.join(workdir, "metrics.json")),
            "process_seconds": stamp["process_seconds"]}


def _read_json(path):
    """The JSON in `path`, None when there is no such file."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as json_file:
        return json.load(json_file)


def _cpu_name():
    """The CPU's model name (Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _summary(values, digits=4):
    if not values:
        return "–"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default="runs/benchmarks")
    args, extra = parser.parse_known_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    results = {}
    for label, flagfile in RECIPES.items():
        stem = os.path.splitext(os.path.basename(flagfile))[0]
        results[label] = [_run(flagfile, seed, os.path.join(args.out, f"{stem}-seed{seed}"), extra)
                          for seed in seeds]
    lines = [f"Machine: {_cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
             f"seeds {args.seeds}; extra flags: {' '.join(extra) or 'none'}", "",
             "| recipe | fine accuracy | mid accuracy | coarse accuracy | fine, single view "
             "| wall time per run (min) |",
             "|---|---|---|---|---|---|"]
    for label, runs in results.items():
        cells = [_summary([run["heads"][head]["accuracy"] for run in runs if head in run["heads"]])
                 for head in HEADS]
        cells.append(_summary([run["heads_single_view"]["fine"]["accuracy"] for run in runs
                               if "heads_single_view" in run]))
        minutes = _summary([run["process_seconds"] / 60 for run in runs], digits=1)
        lines.append(f"| {label} | {' | '.join(cells)} | {minutes} |")
    fine = {label: [run["heads"]["fine"]["accuracy"] for run in runs] for label, runs in results.items()}
    multi, single = fine.values()
    differences = [a - b for a, b in zip(multi, single)]
    lines += ["", f"Fine accuracy, three heads minus fine only, paired by seed: {_summary(differences)}"]
    slowest = max(run["process_seconds"] for run in results[next(iter(RECIPES))]) / 60
    met = statistics.mean(multi) >= GOAL_ACCURACY and slowest <= GOAL_MINUTES
    lines.append(f"Goal (three heads: mean fine accuracy >= {GOAL_ACCURACY}, every run <= "
                 f"{GOAL_MINUTES} min): {'met' if met else 'NOT met'} (mean "
                 f"{statistics.mean(multi):.4f}, slowest run {slowest:.1f} min)")
    table = "\n".join(lines)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "fashion_mnist.md"), "w", encoding="utf-8") as table_file:
        table_file.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
