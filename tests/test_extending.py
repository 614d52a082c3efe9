"""mtl_keras/README.md's "how to extend" is true: a copy of the package gains a method, an
architecture, a protocol, a dataset and a head kind, each one new file plus one import line,
and each trains and shows in the help with nothing else edited."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import mtl_keras

PACKAGE = pathlib.Path(mtl_keras.__file__).resolve().parent

# (folder inside the package, module name, source): one file each.
PROBES = [
    ("methods", "probe_method", '''
        """probe_weights: every loss counted twice (a probe of the extension seam)."""
        import tensorflow as tf

        from mtl_keras import registry
        from mtl_keras.methods import base


        @base.METHODS.register("probe_weights")
        class ProbeWeights(base.Method):
            """Twice the plain sum of the losses."""

            description = "probe: twice the sum"
            HYPERPARAMETERS = {"factor": registry.Option(2.0, "the factor", minimum=0)}

            def objective(self, losses, step):
                return self.options["factor"] * tf.reduce_sum(losses)
        '''),
    ("models/architectures", "probe_architecture", '''
        """probe_twin: the trunk, then one Dense layer of each task's own."""
        from keras import layers

        from mtl_keras.models.architectures import base


        @base.register("probe_twin")
        class ProbeTwin(base.Architecture):
            """The trunk, then a Dense layer per task."""

            shares_representation = True

            def build(self, tasks, trunk, images):
                features = trunk(images)
                return base.Built({task.name: layers.Dense(8, activation="relu")(features)
                                   for task in tasks}, representation=(features,))
        '''),
    ("protocols", "probe_protocol", '''
        """probe_joint: every head every step, the training split halved."""
        import dataclasses

        import numpy as np

        from mtl_keras.protocols import base


        class ProbeJoint(base.Protocol):
            """Every head, on the first half of the training images."""

            def training_data(self, data, config):
                half = data.train.take(np.arange(len(data.train) // 2))
                return dataclasses.replace(data, train=half)


        base.PROTOCOLS.register("probe_joint")(ProbeJoint())
        '''),
    ("data/datasets", "probe_dataset", '''
        """probe_squares: made-up 8×8 images; is the image bright, and the parity of a draw."""
        import numpy as np

        from mtl_keras import tasks
        from mtl_keras.data import source


        @source.DATASETS.register("probe_squares", description="probe: made-up bright squares")
        def load_probe_squares(config):
            """Two heads on 96 training and 32 test images."""
            rng = np.random.default_rng(config.seed)

            def split(count):
                images = rng.integers(0, 256, (count, 8, 8, 1)).astype(np.uint8)
                bright = (images.mean(axis=(1, 2, 3)) > 127.5).astype(np.float32)[:, None]
                return source.Split(images, {"bright": bright, "parity": rng.integers(0, 2, count)})

            heads = (tasks.Task("bright", kind="binary"), tasks.Task("parity", 2))
            return source.DataSource("probe_squares", heads, split(96), None, split(32))
        '''),
    ("heads", "count", '''
        """count: a number of things, 0 or more; a softplus output and a Poisson loss."""
        import keras
        import numpy as np

        from mtl_keras.heads import base

        base.LOSSES.add("poisson", keras.losses.poisson)


        def _mae(task, predictions, labels):
            values, targets = base.rows(predictions, labels)
            return float(np.mean(np.abs(values - targets)))


        @base.register("count")
        class Count(base.HeadKind):
            """a count, 0 or more (softplus)"""

            activation = "softplus"
            default_loss = "poisson"
            fitting_losses = ("poisson", "mse")
            takes_classes = False
            metrics = {"mae": base.Metric("mae", lambda task: keras.metrics.MeanAbsoluteError(
                name="mae"), _mae, lower_is_better=True)}

            def default_metrics(self, task):
                return ("mae",)

            def probe_batch(self, task):
                return np.arange(4, dtype=np.float32)[:, None], np.ones((4, 1), np.float32)

            def answer(self, task, output, class_names, top_k):
                return {"value": float(output[0])}

            def caption(self, task, prediction, label, known):
                return f"{task.name}: {float(np.ravel(prediction)[0]):.1f}", None
        '''),
]

CHECK = '''
import contextlib, io, json, sys
import numpy as np
import mtl_keras
from mtl_keras import cli
assert mtl_keras.__file__.startswith(sys.argv[1]), mtl_keras.__file__
help_text = io.StringIO()
with contextlib.redirect_stdout(help_text):
    cli.main(["mtl-keras", "train", "--help"])
shown = [name for name in ("probe_weights", "probe_twin", "probe_joint", "probe_squares")
         if name in help_text.getvalue()]
run = mtl_keras.train(dataset="probe_squares", trunk="simple_cnn",
                      epochs=1, batch_size=32, validation_size=0, weighting="probe_weights",
                      weighting_options={"factor": 3.0}, architecture="probe_twin",
                      protocol="probe_joint", workdir=sys.argv[2])
tasks = [mtl_keras.Task("things", kind="count"), mtl_keras.Task("colour", 3)]
model = mtl_keras.build_model(tasks, "simple_cnn", (8, 8, 1))
model.compile(optimizer="adam")  # the count head's own loss (poisson) and metric (mae)
rng = np.random.default_rng(0)
images = rng.integers(0, 255, (64, 8, 8, 1)).astype("uint8")
labels = {"things": rng.poisson(3.0, (64, 1)).astype("float32"), "colour": rng.integers(0, 3, 64)}
history = model.fit(images, labels, epochs=2, batch_size=16, verbose=0).history
model.save(sys.argv[2] + "/count.keras")
answer = mtl_keras.load(sys.argv[2] + "/count.keras").predict(images[:1])[0]["things"]
print(json.dumps({"shown": shown, "trained": sorted(run.metrics["heads"]),
                  "weighting": type(run.model.weighting_method).__name__,
                  "count_logs": sorted(k for k in history if k.startswith("things")),
                  "answer": sorted(answer)}))
'''


def test_a_method_architecture_protocol_dataset_and_head_kind_are_one_file_and_one_import_each(tmp_path):
    copy = tmp_path / "src" / "mtl_keras"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for folder, module, source in PROBES:
        (copy / folder / f"{module}.py").write_text(textwrap.dedent(source).lstrip())
        init = copy / folder / "__init__.py"
        dotted = ".".join(["mtl_keras", *folder.split("/"), module])
        init.write_text(init.read_text() + f"from {dotted.rpartition('.')[0]} import "
                                           f"{module}  # noqa: F401\n")
    changed = sorted(str(path.relative_to(copy)) for path in copy.rglob("*.py")
                     if not (PACKAGE / path.relative_to(copy)).exists()
                     or (PACKAGE / path.relative_to(copy)).read_bytes() != path.read_bytes())
    assert len(changed) == 2 * len(PROBES), changed  # each probe's file and its import line
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(copy), str(tmp_path / "run")], capture_output=True,
        text=True, timeout=300, cwd=tmp_path, env={**environment, "PYTHONPATH": str(copy.parent)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"shown": ["probe_weights", "probe_twin", "probe_joint", "probe_squares"],
                      "trained": ["bright", "parity"], "weighting": "ProbeWeights",
                      "count_logs": ["things_loss", "things_mae"], "answer": ["kind", "value"]}
