"""Runs several throughput programs alternately, several rounds, and prints their ratios.

    python benchmarks/compare.py --suite=anchors --anchors=DIR [--torch_python=PATH] [--rounds=3]
    python benchmarks/compare.py --suite=settings [--trunks=simple_cnn,resnet9] [--rounds=2]
    python benchmarks/compare.py --suite=batch_norm [--trunks=resnet9,resnet20] [--rounds=2]
    python benchmarks/compare.py --suite=checkouts --checkouts=OLD_DIR,. [--rounds=3]

The machines we measure on are shared and noisy, so programs are never compared across
runs: every round runs each contender once, in turn, and the table gives the median
images/s per contender and its speed relative to the first row of its group (the trunk in
the settings suite, the trunk and precision in the batch_norm suite; the anchors suite is
one group headed by mtl_keras' defaults, and it also prints mtl_keras' speed-up over each
anchor).

Suites:
  anchors   mtl_keras' simple_cnn two-head training (benchmarks/throughput.py, batch 256,
            defaults, float32 and bfloat16) against the anchor scripts in DIR: the Keras
            tutorial notebook's model at batch 256 and at its own batch of 32, and the same
            model in PyTorch, in float32 and in its fastest CPU setting (bfloat16 autocast,
            channels_last; needs --torch_python, a Python with torch installed).
  settings  per trunk: float32 / bfloat16 mixed precision, XLA off / on; for the first
            trunk also TensorFlow's thread pools and oneDNN off.
  batch_norm per trunk: the fused batch normalization the trunks use against Keras'
            BatchNormalization layer, in float32 and bfloat16.
  checkouts `make benchmark-throughput`'s program (simple_cnn, two heads, batch 256,
            defaults) of each checkout of this repository in --checkouts (e.g. one made by
            `git worktree add /tmp/old COMMIT`), each with its own code: a change's cost
            to the default path, relative to the first checkout.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_THROUGHPUT = [sys.executable, os.path.join(_HERE, "throughput.py")]


def _anchors(args):
    steps = f"--steps={args.steps}"
    examples = str(args.steps * 256)
    contenders = [
        ("mtl_keras simple_cnn, defaults", _THROUGHPUT + ["--trunk=simple_cnn", "--batch_size=256", steps], {}),
        ("mtl_keras simple_cnn, float32", _THROUGHPUT + ["--trunk=simple_cnn", "--batch_size=256", steps,
                                                         "--mixed_precision=false"], {}),
        ("mtl_keras simple_cnn, bfloat16", _THROUGHPUT + ["--trunk=simple_cnn", "--batch_size=256", steps,
                                                          "--mixed_precision=true"], {}),
        ("Keras notebook, batch 256", [sys.executable, os.path.join(args.anchors, "notebook_keras.py"),
                                       examples, "256"], {}),
        ("Keras notebook, batch 32", [sys.executable, os.path.join(args.anchors, "notebook_keras.py"),
                                      examples, "32"], {}),
    ]
    if args.torch_python:
        torch_script = [args.torch_python, os.path.join(args.anchors, "notebook_pytorch.py"),
                        examples, "256"]
        contenders.append(("PyTorch, batch 256", torch_script, {}))
        contenders.append(("PyTorch, batch 256, bfloat16 autocast + channels_last",
                           torch_script + ["1", "1"], {}))
    return contenders


# (--mixed_precision value, name in the tables)
_PRECISIONS = (("false", "float32"), ("true", "bfloat16"))


def _trunk_command(args, trunk):
    return _THROUGHPUT + [f"--trunk={trunk}", f"--batch_size={args.batch_size}",
                          f"--steps={args.steps}", f"--dataset={args.dataset}"]


def _settings(args):
    contenders = []
    for number, trunk in enumerate(args.trunks.split(",")):
        base = _trunk_command(args, trunk)
        for precision, precision_name in _PRECISIONS:
            for jit in ("false", "true"):
                contenders.append((f"{trunk} {precision_name} XLA {jit}",
                                   base + [f"--mixed_precision={precision}", f"--jit_compile={jit}"],
                                   {}))
        if number == 0:
            fixed = base + ["--mixed_precision=true", "--jit_compile=false"]
            for inter, intra in ((1, 2), (2, 2), (1, 1)):
                contenders.append((f"{trunk} bfloat16 threads inter={inter} intra={intra}", fixed,
                                   {"TF_NUM_INTEROP_THREADS": str(inter),
                                    "TF_NUM_INTRAOP_THREADS": str(intra)}))
            contenders.append((f"{trunk} float32 oneDNN off", base + ["--mixed_precision=false"],
                               {"TF_ENABLE_ONEDNN_OPTS": "0"}))
    return contenders


def _batch_norm(args):
    contenders = []
    for trunk in args.trunks.split(","):
        base = _trunk_command(args, trunk)
        for precision, precision_name in _PRECISIONS:
            for layer, extra in (("fused", []), ("Keras", ["--keras_batch_norm"])):
                contenders.append((f"{trunk} {precision_name} {layer} BatchNorm",
                                   base + [f"--mixed_precision={precision}", *extra], {}))
    return contenders


def _checkouts(args):
    contenders = []
    for folder in args.checkouts.split(","):
        folder = os.path.abspath(folder)
        script = os.path.join(folder, "benchmarks", "throughput.py")
        if not os.path.isfile(script):
            raise SystemExit(f"--checkouts: {folder} is not a checkout of this repository "
                             f"(no benchmarks/throughput.py).")
        contenders.append((f"checkout {folder}", [sys.executable, script, "--trunk=simple_cnn",
                                                  "--batch_size=256", f"--steps={args.steps}"],
                           {"PYTHONPATH": folder}))
    return contenders


def _measure(command, extra_env):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **extra_env}
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result.get("train_img_per_s", result.get("img_per_s"))


_SUITES = {"anchors": _anchors, "settings": _settings, "batch_norm": _batch_norm,
           "checkouts": _checkouts}
# Relative speeds are to the first contender whose name starts with the same words: one
# group (anchors), the trunk (settings), the trunk and precision (batch_norm).
_GROUP_WORDS = {"anchors": 0, "settings": 1, "batch_norm": 2, "checkouts": 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=tuple(_SUITES), default="anchors")
    parser.add_argument("--anchors", help="folder of notebook_keras.py and notebook_pytorch.py")
    parser.add_argument("--torch_python", default="", help="a Python with torch, for the PyTorch anchor")
    parser.add_argument("--trunks", default="simple_cnn,lenet,resnet9,resnet20")
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkouts", default="", help="comma-separated checkouts (--suite=checkouts)")
    args = parser.parse_args()
    if args.suite == "anchors" and not (args.anchors and os.path.isdir(args.anchors)):
        parser.error("--suite=anchors needs --anchors=DIR, the folder of the anchor scripts.")
    if args.suite == "checkouts" and len(args.checkouts.split(",")) < 2:
        parser.error("--suite=checkouts needs --checkouts=DIR,DIR: two or more checkouts.")
    contenders = _SUITES[args.suite](args)
    rates = {name: [] for name, _, _ in contenders}
    for round_number in range(args.rounds):
        for name, command, extra_env in contenders:
            rates[name].append(_measure(command, extra_env))
            print(f"round {round_number + 1}/{args.rounds} {name}: {rates[name][-1]:.0f} img/s",
                  file=sys.stderr, flush=True)
    print(f"| program | images/s, median of {args.rounds} rounds (each round) | relative speed |")
    print("|---|---|---|")
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        group = " ".join(name.split(" ")[:_GROUP_WORDS[args.suite]])
        reference = medians[next(n for n in medians if n.startswith(group))]
        shown = ", ".join(f"{value:.0f}" for value in values)
        print(f"| {name} | {medians[name]:.0f} ({shown}) | {medians[name] / reference:.2f} |")
    if args.suite == "anchors":
        ours = contenders[0][0]
        for name in list(medians)[3:]:
            print(f"{ours} / {name}: {medians[ours] / medians[name]:.2f}×")


if __name__ == "__main__":
    main()
