"""The same folder trained in memory and streamed from a record cache, over several seeds.

    python benchmarks/make_fashion_folder.py DATA --count=70000 --size=28
    python benchmarks/streaming_accuracy.py --csv=DATA/labels.csv --out=runs/streaming \
        [--seeds=0,1,2] [--epochs=5] [EXTRA mtl_keras.run FLAGS]

Runs `python -m mtl_keras.run` once per seed and per path, alternately, one at a time:
`--in_memory=true` and `--in_memory=false --cache_dir=OUT/cache` (the first streamed run
writes the cache; the others read it), with the same flags otherwise (heads article and
footwear, `simple_cnn`, `--epochs`). Prints a Markdown table of each head's test accuracy,
mean ± std over seeds, and the paired difference streamed minus in memory, and writes it
to OUT/streaming_accuracy.md. A run folder that holds metrics.json is reused.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PATHS = {"in memory": ["--in_memory=true"], "streamed": ["--in_memory=false"]}
HEADS = ("article", "footwear")


def _run(workdir, flags):
    """Trains into `workdir` unless it holds a finished run; returns (metrics, seconds)."""
    metrics_path = os.path.join(workdir, "metrics.json")
    if not os.path.exists(metrics_path):
        command = [sys.executable, "-m", "mtl_keras.run", *flags, f"--workdir={workdir}"]
        print("$", " ".join(command), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        with open(os.path.join(workdir, "process_seconds.txt"), "w", encoding="utf-8") as out:
            out.write(f"{time.perf_counter() - start:.1f}\n")
    with open(metrics_path, encoding="utf-8") as metrics:
        results = json.load(metrics)
    with open(os.path.join(workdir, "process_seconds.txt"), encoding="utf-8") as seconds:
        return results, float(seconds.read())


def _spread(values):
    mean = statistics.mean(values)
    return f"{mean:.4f} ± {statistics.stdev(values):.4f}" if len(values) > 1 else f"{mean:.4f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--out", default="runs/streaming")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=5)
    arguments, extra = parser.parse_known_args()
    common = ["--dataset=folder", f"--csv={arguments.csv}", "--image_size=28",
              "--tasks=article:multiclass,footwear:binary:no|yes", "--trunk=simple_cnn",
              f"--epochs={arguments.epochs}", f"--cache_dir={os.path.join(arguments.out, 'cache')}",
              *extra]
    seeds = [int(seed) for seed in arguments.seeds.split(",")]
    results = {path: [] for path in PATHS}
    for seed in seeds:
        for path, flags in PATHS.items():
            workdir = os.path.join(arguments.out, f"{path.replace(' ', '_')}-seed{seed}")
            results[path].append(_run(workdir, [*common, *flags, f"--seed={seed}"]))
    lines = [f"Command: `python benchmarks/streaming_accuracy.py --csv={arguments.csv} "
             f"--out={arguments.out} --seeds={arguments.seeds} --epochs={arguments.epochs}"
             f"{' ' + ' '.join(extra) if extra else ''}`", "",
             "| path | " + " | ".join(f"{head} accuracy" for head in HEADS)
             + " | wall time per run (s) |", "|---" * (len(HEADS) + 2) + "|"]
    for path, runs in results.items():
        accuracies = [_spread([metrics["heads"][head]["accuracy"] for metrics, _ in runs])
                      for head in HEADS]
        seconds = ", ".join(f"{seconds:.0f}" for _, seconds in runs)
        lines.append(f"| {path} | " + " | ".join(accuracies) + f" | {seconds} |")
    pairs = list(zip(results["in memory"], results["streamed"]))
    differences = [_spread([streamed["heads"][head]["accuracy"] - memory["heads"][head]["accuracy"]
                            for (memory, _), (streamed, _) in pairs]) for head in HEADS]
    lines.append("| streamed − in memory, same seed | " + " | ".join(differences) + " | |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(arguments.out, "streaming_accuracy.md"), "w", encoding="utf-8") as out:
        out.write(table)


if __name__ == "__main__":
    main()
