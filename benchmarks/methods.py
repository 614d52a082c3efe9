"""Cost of a training step of every multi-task method, relative to `equal`, in one run.

    python benchmarks/methods.py --suite=cifar100 [--methods=equal,uw,pcgrad] [--rounds=3]
    python benchmarks/methods.py --suite=fashion_mnist
    python benchmarks/methods.py --suite=cifar100 --torch_python=/work/torchenv/bin/python

Each setting (a method, and for gradient-level methods also with `--rep_grad`) is built as
`mtl_keras.run` builds a run (`preparation.prepare`, `train.build_and_compile`,
`train.make_datasets`) on made-up images, then the settings are timed in turn, round after
round, so that the machine's noise falls on all of them alike: a round trains every setting
for `--steps` steps after `--warmup_steps` untimed ones. Prints one JSON line per setting
(median images/s over the rounds and its ratio to `equal`'s), then a Markdown table.

Suites: `cifar100`: simple_cnn with the fine and coarse heads at batch 256 (the model of
the Keras notebook and of the TorchJD anchor); `fashion_mnist`: resnet9 with the three
Fashion-MNIST heads (fine, mid, coarse) at batch 128.

`--torch_python=PYTHON` also runs `../shared/anchors/torchjd_methods.py` (the TorchJD
anchor: the same two-head model in PyTorch; PYTHON needs torch, torchjd, qpsolvers and
quadprog) after the rounds, with the same batch, and adds its images/s and its ratio to its
own summed loss for the methods both have.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import dataclasses

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from mtl_keras import methods  # noqa: E402
import timing  # noqa: E402  (benchmarks/timing.py)
from mtl_keras.cli import training_flags  # noqa: E402
from mtl_keras.training import preparation  # noqa: E402
from mtl_keras.training import train  # noqa: E402

flags.DEFINE_enum("suite", "cifar100", ["cifar100", "fashion_mnist"], "The model and heads.")
flags.DEFINE_string("methods", "", "Comma-separated methods (default: every registered one).")
flags.DEFINE_integer("rounds", 3, "Rounds over all settings; the median round is reported.")
flags.DEFINE_integer("steps", 20, "Timed steps per setting and round.")
flags.DEFINE_integer("warmup_steps", 3, "Untimed steps before each timing.")
flags.DEFINE_string("torch_python", "", "A Python with torch and torchjd: also run the anchor.")
FLAGS = flags.FLAGS
training_flags.define(FLAGS)  # the training flags, as `mtl-keras train` has them

SUITES = {
    "cifar100": {"dataset": "cifar100", "trunk": "simple_cnn", "batch_size": 256, "heads": ""},
    "fashion_mnist": {"dataset": "fashion_mnist", "trunk": "resnet9", "batch_size": 128,
                      "heads": "fine,mid,coarse"},
}
# Our method name → the TorchJD anchor's.
TORCHJD_NAMES = {"equal": "sum", "upgrad": "upgrad", "pcgrad": "pcgrad", "mgda": "mgda",
                 "imtl": "imtlg"}
ANCHOR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "anchors",
                      "torchjd_methods.py")


def _settings(names):
    """(method, rep_grad) pairs: every method, and gradient methods also with rep_grad."""
    settings = []
    for name in names:
        settings.append((name, False))
        if methods.METHODS.get(name).level == "gradient":
            settings.append((name, True))
    return settings


def _build(experiment, name, rep_grad):
    config = dataclasses.replace(experiment.config, weighting=name, rep_grad=rep_grad)
    experiment = dataclasses.replace(experiment, config=config,
                                     parts=preparation.check_parts(config))
    model, _ = train.build_and_compile(experiment)
    return model, train.make_datasets(experiment)[0].repeat()


def _rate(model, dataset, batch_size):
    clock = timing.StepClock()
    model.fit(dataset, steps_per_epoch=FLAGS.warmup_steps + FLAGS.steps, epochs=1,
              callbacks=[clock], verbose=0, shuffle=False)
    timed = clock.times[FLAGS.warmup_steps - 1:]
    return (len(timed) - 1) * batch_size / (timed[-1] - timed[0])


def _anchor(batch_size):
    """The TorchJD anchor's JSON line, or None."""
    if not FLAGS.torch_python:
        return None
    command = [FLAGS.torch_python, os.path.abspath(ANCHOR), str(40 * batch_size),
               str(batch_size), str(FLAGS.rounds)]
    print(f"running the anchor: {' '.join(command)}", file=sys.stderr, flush=True)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _table(results, anchor):
    lines = ["| method | level | rep_grad | images/s | × equal's step time | TorchJD images/s "
             "| TorchJD × its sum |", "|---|---|---|---|---|---|---|"]
    for row in results:
        torch_name = TORCHJD_NAMES.get(row["method"])
        torch_rate = torch_ratio = ""
        if anchor and torch_name in anchor.get("img_per_s", {}) and not row["rep_grad"]:
            torch_rate = f"{anchor['img_per_s'][torch_name]:.0f}"
            torch_ratio = f"{anchor['img_per_s']['sum'] / anchor['img_per_s'][torch_name]:.2f}"
        lines.append(f"| {row['method']} | {row['level']} | {'yes' if row['rep_grad'] else ''} | "
                     f"{row['img_per_s']:.0f} | {row['step_time_vs_equal']:.2f} | {torch_rate} | "
                     f"{torch_ratio} |")
    return "\n".join(lines)


def main(argv):
    del argv
    suite = SUITES[FLAGS.suite]
    for name, value in {**suite, "synthetic": True, "validation_size": 0, "epochs": 1,
                        "optimizer": "sgd"}.items():
        setattr(FLAGS, name, value)
    FLAGS.synthetic_examples = 8 * FLAGS.batch_size
    names = [n for n in FLAGS.methods.split(",") if n] or methods.METHODS.names()
    if "equal" not in names:
        names.insert(0, "equal")
    with tempfile.TemporaryDirectory() as workdir:
        experiment = preparation.prepare(training_flags.to_config(FLAGS), workdir)
        built = {setting: _build(experiment, *setting) for setting in _settings(names)}
        rates = {setting: [] for setting in built}
        for number in range(FLAGS.rounds + 1):  # round 0 traces every step function
            for setting, (model, dataset) in built.items():
                rate = _rate(model, dataset, FLAGS.batch_size)
                if number:
                    rates[setting].append(rate)
            print(f"round {number} of {FLAGS.rounds} done", file=sys.stderr, flush=True)
    equal = statistics.median(rates[("equal", False)])
    results = []
    for (name, rep_grad), values in rates.items():
        median = statistics.median(values)
        results.append({"suite": FLAGS.suite, "method": name, "rep_grad": rep_grad,
                        "level": methods.METHODS.get(name).level,
                        "img_per_s": round(median, 1), "step_time_vs_equal": round(equal / median, 3),
                        "rounds": [round(v, 1) for v in values]})
        print(json.dumps(results[-1]), flush=True)
    anchor = _anchor(FLAGS.batch_size)
    if anchor:
        print(json.dumps({"torchjd_anchor": anchor}), flush=True)
    print(_table(results, anchor))


if __name__ == "__main__":
    app.run(main)
