"""Where a run diverges: each training step's per-head losses and trunk gradients.

    python benchmarks/step_diagnosis.py --steps=21 [any mtl_keras.run flag ...]

Builds the run as the entry point does (`preparation.prepare`, `train.build_and_compile`,
`train.make_datasets`), then trains step by step with `train_on_batch` and prints one line
per step: the learning rate, each head's loss on the step's batch (before the step, loss
weights not applied), the norm of the gradient each head's loss alone sends into the trunk,
and the norm of the trunk's weights. It stops at the first step that leaves a weight that
is not finite. Nothing is written.
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402

from mtl_keras.cli import training_flags  # noqa: E402
from mtl_keras.training import preparation  # noqa: E402
from mtl_keras.training import train  # noqa: E402

flags.DEFINE_integer("steps", 21, "Training steps to run and print.")
FLAGS = flags.FLAGS
training_flags.define(FLAGS)  # the training flags, as `mtl-keras train` has them


def _norm(tensors):
    return float(tf.linalg.global_norm([tf.cast(t, tf.float32) for t in tensors if t is not None]))


def _step_line(model, heads, trunk, images, labels, masks):
    """Measures one batch before the step; returns the printed line's figures."""
    with tf.GradientTape(persistent=True) as tape:
        outputs = model(images, training=True)
        losses = {head: model.loss[head](labels[head], outputs[head], sample_weight=masks[head])
                  for head in heads}
    gradients = {head: _norm(tape.gradient(losses[head], trunk)) for head in heads}
    del tape
    return (" ".join(f"{head}_loss={float(loss):.3g}" for head, loss in losses.items())
            + " | trunk gradient " + " ".join(f"{h}={g:.3g}" for h, g in gradients.items()))


def main(argv):
    del argv
    with tempfile.TemporaryDirectory() as workdir:
        experiment = preparation.prepare(training_flags.to_config(FLAGS), os.path.join(workdir, "run"))
    model, precision = train.build_and_compile(experiment)
    training, _, _ = train.make_datasets(experiment)
    heads = [task.name for task in experiment.data.tasks]
    trunk = [v for v in model.trainable_variables if v.path.split("/")[0] not in heads
             and not any(v.path.startswith(f"{head}_") for head in heads)]
    print(f"steps per epoch {experiment.steps_per_epoch}, precision {precision}", flush=True)
    for step, (images, labels, *masks) in enumerate(training.repeat().take(FLAGS.steps)):
        masks = masks[0] if masks else {head: tf.ones(tf.shape(images)[0]) for head in heads}
        learning_rate = float(model.optimizer.learning_rate)
        line = _step_line(model, heads, trunk, images, labels, masks)
        model.train_on_batch(images, labels, sample_weight=masks)
        finite = all(bool(tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32))))
                     for v in model.weights)
        print(f"step {step:3d} learning_rate={learning_rate:.4f} {line} | trunk weights "
              f"{_norm(trunk):.4g}", flush=True)
        if not finite:
            print(f"a weight is not finite after step {step}", flush=True)
            break


if __name__ == "__main__":
    app.run(main)
