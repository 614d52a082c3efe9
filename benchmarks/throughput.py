"""Training throughput of the path `mtl_keras.run` takes, on synthetic CIFAR-100-shaped data
or on a folder of images.

    python benchmarks/throughput.py --trunk=simple_cnn --batch_size=256 --steps=60 [--flag=value ...]
    python benchmarks/throughput.py --dataset=folder --csv=DIR/labels.csv --tasks=... \
        --image_size=64 --in_memory=false --cache_dir=CACHE --trunk=simple_cnn

Builds the run exactly as the entry point does (`preparation.prepare`, `train.build_and_compile`,
`train.make_datasets`, `model.fit`), on made-up 32×32×3 uint8 images, and prints one JSON
line: training images/s over the steps after the warm-up ones (tracing and the first
pipeline fills are left out), and the images/s of the training input pipeline alone.
Any other `mtl_keras.run` flag (`--mixed_precision=false`, `--jit_compile=true`,
`--heads=...`, `--dataset=fashion_mnist`) applies, so one script measures every setting
the README quotes. The JSON line also gives the process' resident memory once the data
is loaded, at the end (after training and the pipeline's own epochs) and at its peak;
with `--synthetic_examples=50000` the pipeline caches a CIFAR-sized training split.

With `--dataset=folder`, `utkface` or `tfds:NAME` the data is that dataset's (not made
up): the fit is one whole epoch of its training split, and the JSON line adds the time from
a new training iterator to its first batch (`first_batch_seconds`, measured before
training), so that one command gives the peak memory of an epoch, the pipeline's images/s
and the training's.

`--keras_batch_norm` builds the trunk with Keras' own `BatchNormalization` layer instead
of the fused one the trunks use (`mtl_keras/models/batch_norm.py`), to measure the gain.

`--profile_dir=DIR` also records a TensorBoard profiler trace of 10 steps after the
warm-up into DIR (open it with TensorBoard's profile tab) and prints where the compute
threads spent those steps, by TensorFlow op type, as a second JSON line. (The trace
slows those steps: the images/s of a profiled run are not a measurement.)
"""

import collections
import glob

import json
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import keras  # noqa: E402

import timing  # noqa: E402  (benchmarks/timing.py)
from mtl_keras.cli import training_flags  # noqa: E402
from mtl_keras.models import trunks  # noqa: E402
from mtl_keras.training import preparation  # noqa: E402
from mtl_keras.training import train  # noqa: E402

flags.DEFINE_integer("steps", 60, "Timed training steps.")
flags.DEFINE_integer("warmup_steps", 10, "Steps run before the clock starts (tracing, caches).")
flags.DEFINE_integer("pipeline_batches", 400, "Batches the input pipeline alone is timed over.")
flags.DEFINE_bool("keras_batch_norm", False, "Build the trunk with Keras' BatchNormalization "
                  "layer instead of mtl_keras' fused one, for comparison.")
flags.DEFINE_string("profile_dir", "", "Record a profiler trace of 10 steps here, and summarise it.")
FLAGS = flags.FLAGS
training_flags.define(FLAGS)  # the training flags, as `mtl-keras train` has them


def _first_batch_seconds(dataset):
    start = time.perf_counter()
    next(iter(dataset))
    return round(time.perf_counter() - start, 2)


def _pipeline_rate(dataset, batch_size, batches):
    iterator = iter(dataset.repeat())
    for _ in range(20):  # fill the cache and the prefetch buffer
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def _op_time_by_type(profile_dir, top=12):
    """Milliseconds per TensorFlow op type on the compute threads of the recorded trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: PLC0415

    path = sorted(glob.glob(os.path.join(profile_dir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as trace:
        space.ParseFromString(trace.read())
    totals = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if name != "ExecutorState::Process":  # the executor's frame around the ops
                    totals[name.rsplit(":", 1)[-1]] += event.duration_ps / 1e9
    all_ops = sum(totals.values())
    return {"trace": path, "op_ms_total": round(all_ops, 1),
            "op_share_by_type": {op: round(ms / all_ops, 3) for op, ms in totals.most_common(top)}}


def _peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rss_mb():
    """The resident memory now (Linux), in MB."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def main(argv):
    del argv
    steps = FLAGS.steps + FLAGS.warmup_steps
    real = FLAGS.dataset.partition(":")[0] in ("folder", "utkface", "tfds")
    FLAGS.synthetic = not real
    FLAGS.validation_size = 0
    FLAGS.epochs = 1
    # The settings the size rule would choose for these few made-up images (AdamW, a smaller
    # batch) are not what is measured: unless given, the step is the large-data default's.
    for name, value in (("batch_size", 128), ("optimizer", "sgd")):
        if not FLAGS[name].present:
            setattr(FLAGS, name, value)
    if not real and not FLAGS["synthetic_examples"].present:
        FLAGS.synthetic_examples = steps * FLAGS.batch_size
    config = training_flags.to_config(FLAGS)
    if FLAGS.keras_batch_norm:
        trunks.batch_norm_layer = keras.layers.BatchNormalization
    callbacks = [timing.StepClock()]
    if FLAGS.profile_dir:
        first = FLAGS.warmup_steps + 1
        callbacks.append(keras.callbacks.TensorBoard(FLAGS.profile_dir, write_graph=False,
                                                     profile_batch=(first, first + 9)))
    with tempfile.TemporaryDirectory() as workdir:
        experiment = preparation.prepare(config, workdir)
        rss_with_data = _rss_mb()
        model, precision = train.build_and_compile(experiment)
        training, _, _ = train.make_datasets(experiment)
        first_batch = _first_batch_seconds(training)
        # One epoch (task sampling's pipeline is endless; repeat() lets the others end there).
        model.fit(training.repeat(), steps_per_epoch=experiment.steps_per_epoch, epochs=1,
                  callbacks=callbacks, verbose=0, shuffle=False)
    timed = callbacks[0].times[FLAGS.warmup_steps - 1:]
    config = experiment.config  # resolved: the learning rate and batch-norm momentum chosen
    train_rate = (len(timed) - 1) * config.batch_size / (timed[-1] - timed[0])
    pipeline_rate = _pipeline_rate(training, config.batch_size, FLAGS.pipeline_batches)
    print(json.dumps({
        "trunk": config.trunk, "keras_batch_norm": FLAGS.keras_batch_norm,
        "batch_size": config.batch_size, "steps": len(timed) - 1,
        "heads": [task.name for task in experiment.data.tasks], "precision": precision,
        "jit_compile": bool(model.jit_compile), "train_img_per_s": round(train_rate, 1),
        "pipeline_img_per_s": round(pipeline_rate, 1),
        "pipeline_over_train": round(pipeline_rate / train_rate, 2),
        "train_examples": len(experiment.data.train), "first_batch_seconds": first_batch,
        "in_memory": experiment.data.train.in_memory, "rss_mb_data_loaded": rss_with_data,
        "rss_mb_end": _rss_mb(), "peak_rss_mb": _peak_rss_mb()}))
    if FLAGS.profile_dir:
        print(json.dumps(_op_time_by_type(FLAGS.profile_dir)))


if __name__ == "__main__":
    app.run(main)
