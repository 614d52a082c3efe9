"""Every architecture on Multi-Fashion's two heads: accuracy over seeds, parameters, and
step time relative to `hps`; one resumable command.

    python benchmarks/architectures.py [--out=runs/architectures] [--seeds=0,1,2]
        [--architectures=hps,mmoe,...] [--rounds=3] [--steps=20] [EXTRA mtl_keras.run FLAGS]

1. Step time: each architecture is built as `mtl_keras.run` builds a run of
   `--flagfile` (default experiments/multi_fashion_architectures.flags) and the models are
   timed in turn, round after round, in this one process, so that the machine's noise falls
   on all of them alike: a round trains each for `--steps` steps after `--warmup_steps`
   untimed ones (median images/s over the rounds; round 0 traces and is not counted).
   Written to OUT/step_times.json, and not measured again while that file exists.
2. Accuracy: each architecture and seed trained by `python -m mtl_keras.run` into
   OUT/ARCHITECTURE-seedN, one at a time (benchmarks/fashion_mnist_seeds.py's runner): a
   finished run of the same command is reused, an unfinished one resumes where it stopped
   (the run's own resume).
3. OUT/architectures.md: test accuracy per head (mean ± std over the seeds), parameters,
   step time relative to hps, wall time per run.
"""

import argparse
import json
import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import fashion_mnist_seeds as seeds_lib  # noqa: E402  (benchmarks/fashion_mnist_seeds.py)

ARCHITECTURES = ("hps", "mmoe", "cgc", "ple", "cross_stitch", "mtan")


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/architectures")
    parser.add_argument("--flagfile", default="experiments/multi_fashion_architectures.flags")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--architectures", default=",".join(ARCHITECTURES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup_steps", type=int, default=3)
    return parser.parse_known_args()


def step_times(args, extra):
    """{architecture: {"img_per_s", "rounds", "parameters"}}, measured alternately."""
    import dataclasses  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    import timing  # noqa: PLC0415  (benchmarks/timing.py)
    from mtl_keras import flagfiles  # noqa: PLC0415
    from mtl_keras.training import preparation  # noqa: PLC0415
    from mtl_keras.training import train  # noqa: PLC0415

    config = flagfiles.read_flagfile(args.flagfile, extra)
    built = {}
    for name in args.architectures.split(","):
        with tempfile.TemporaryDirectory() as workdir:  # nothing is written there
            experiment = preparation.prepare(dataclasses.replace(config, architecture=name),
                                             workdir)
        model, _ = train.build_and_compile(experiment)
        built[name] = (model, train.make_datasets(experiment)[0].repeat())
    batch_size = experiment.config.batch_size
    rates = {name: [] for name in built}
    for number in range(args.rounds + 1):  # round 0 traces every step function
        for name, (model, dataset) in built.items():
            clock = timing.StepClock()
            model.fit(dataset, steps_per_epoch=args.warmup_steps + args.steps, epochs=1,
                      callbacks=[clock], verbose=0, shuffle=False)
            timed = clock.times[args.warmup_steps - 1:]
            if number:
                rates[name].append((len(timed) - 1) * batch_size / (timed[-1] - timed[0]))
        print(f"timing round {number} of {args.rounds} done", flush=True)
    return {name: {"img_per_s": round(statistics.median(values), 1),
                   "rounds": [round(value, 1) for value in values],
                   "parameters": built[name][0].count_params()}
            for name, values in rates.items()}


def train_runs(args, extra):
    """{architecture: [metrics.json of each seed, with process_seconds]}."""
    return {name: [seeds_lib._run(args.flagfile, int(seed),  # noqa: SLF001
                                  os.path.join(args.out, f"{name}-seed{seed}"),
                                  [f"--architecture={name}", *extra])
                   for seed in args.seeds.split(",")]
            for name in args.architectures.split(",")}


def table(args, extra, times, results):
    """The Markdown table of the results."""
    hps = times["hps"]["img_per_s"] if "hps" in times else None
    heads = list(next(iter(results.values()))[0]["heads"])
    summary = seeds_lib._summary  # noqa: SLF001
    lines = [f"Machine: {seeds_lib._cpu_name()}, {os.cpu_count()} cores, "  # noqa: SLF001
             f"Python {platform.python_version()}; flagfile {args.flagfile}, seeds {args.seeds}; "
             f"extra flags: {' '.join(extra) or 'none'}",
             "",
             "| architecture | " + " | ".join(f"{head} accuracy" for head in heads)
             + " | parameters | step time × hps | images/s | wall time per run (min) |",
             "|---|" + "---|" * (len(heads) + 4)]
    for name, runs in results.items():
        cells = [summary([run["heads"][head]["accuracy"] for run in runs]) for head in heads]
        timed = times.get(name, {})
        ratio = f"{hps / timed['img_per_s']:.2f}" if hps and timed else "–"
        minutes = summary([run["process_seconds"] / 60 for run in runs], digits=1)
        lines.append(f"| {name} | {' | '.join(cells)} | {timed.get('parameters', 0):,} | {ratio} "
                     f"| {timed.get('img_per_s', 0):,.0f} | {minutes} |")
    return "\n".join(lines)


def main():
    args, extra = _arguments()
    os.makedirs(args.out, exist_ok=True)
    times_path = os.path.join(args.out, "step_times.json")
    times = seeds_lib._read_json(times_path)  # noqa: SLF001
    if times is None:
        times = step_times(args, extra)
        _write_json(times_path, times)
    results = train_runs(args, extra)
    text = table(args, extra, times, results)
    with open(os.path.join(args.out, "architectures.md"), "w", encoding="utf-8") as table_file:
        table_file.write(text + "\n")
    print(text)


def _write_json(path, value):
    with open(path, "w", encoding="utf-8") as json_file:
        json.dump(value, json_file, indent=2)


if __name__ == "__main__":
    main()
