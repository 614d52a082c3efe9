"""What task sampling costs per step: its tf.data sampler and its training step against joint's.

    python benchmarks/task_sampling.py [--dataset=fashion_mnist_ovr] [--trunk=lenet]
        [--batch_size=128] [--steps=60] [--rounds=3]

Runs benchmarks/throughput.py (the path `python -m mtl_keras.run` takes, on made-up images
shaped like the dataset) for each protocol in turn, round after round, and prints the
median training images/s and input-pipeline images/s of each, relative to joint. The
sampler's pipeline is one cached, shuffled, batched pipeline per task and
`tf.data.Dataset.choose_from_datasets` with a stateless draw per step
(mtl_keras/protocols/task_sampling.py); its step is joint's step on a batch in which one
head's labels are known.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
CONTENDERS = (("joint", ["--protocol=joint"]),
              ("task sampling, uniform", ["--protocol=task_sampling", "--sampling=uniform"]),
              ("task sampling, proportional", ["--protocol=task_sampling",
                                               "--sampling=proportional"]),
              ("standard (one classifier)", ["--protocol=standard"]))


def _measure(arguments):
    command = [sys.executable, os.path.join(_HERE, "throughput.py"), *arguments]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result["train_img_per_s"], result["pipeline_img_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist_ovr")
    parser.add_argument("--trunk", default="lenet")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    common = [f"--dataset={args.dataset}", f"--trunk={args.trunk}",
              f"--batch_size={args.batch_size}", f"--steps={args.steps}", "--optimizer=adamw",
              "--noaugment"]
    rates = {name: [] for name, _ in CONTENDERS}
    for number in range(args.rounds):
        for name, flags in CONTENDERS:
            rates[name].append(_measure(common + flags))
            print(f"round {number + 1}/{args.rounds} {name}: training {rates[name][-1][0]:.0f}, "
                  f"pipeline {rates[name][-1][1]:.0f} img/s", file=sys.stderr, flush=True)
    medians = {name: [statistics.median(column) for column in zip(*values)]
               for name, values in rates.items()}
    joint = medians["joint"]
    print(f"{args.dataset}, {args.trunk}, batch {args.batch_size}, {args.steps} timed steps, "
          f"median of {args.rounds} alternated rounds (each round in brackets)\n")
    print("| protocol | training images/s | vs joint | input pipeline alone, images/s | vs joint |")
    print("|---|---|---|---|---|")
    for name, values in rates.items():
        train = ", ".join(f"{value[0]:.0f}" for value in values)
        pipe = ", ".join(f"{value[1]:.0f}" for value in values)
        print(f"| {name} | {medians[name][0]:.0f} ({train}) | {medians[name][0] / joint[0]:.2f} | "
              f"{medians[name][1]:.0f} ({pipe}) | {medians[name][1] / joint[1]:.2f} |")


if __name__ == "__main__":
    main()
