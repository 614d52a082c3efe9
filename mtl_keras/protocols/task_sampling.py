"""task_sampling: every training step is a batch of one task's examples.

The task of each step is drawn from probabilities over the tasks (`--sampling`):
- uniform: every task alike;
- proportional: to its training examples n_t, as n_t ** (1 / --sampling_temperature);
- annealed (Stickland & Murray 2019, "BERT and PALs"): n_t ** alpha with
  alpha = 1 - 0.8 (e - 1) / (E - 1) in epoch e of E: proportional first, nearly uniform last.

Realised in tf.data: one pipeline per task (its own examples, cached, shuffled, augmented,
batched and repeated, with every other head's mask set to 0), and
`tf.data.Dataset.choose_from_datasets` picking among them with a choice for each step
drawn by `tf.random.stateless_categorical` seeded with (--seed, step). The draw depends on
the step only, so a resumed run (which skips the steps it trained) sees the same tasks,
whatever the thread scheduling. An epoch keeps its number of steps (training examples /
batch size). In the step, the other heads' losses are 0 (a head's loss is the mean over its
known labels, and a head without any is 0); so only the trunk and the
drawn task's head get gradients. An epoch's logged per-head training loss is the mean over
that head's known labels, so over the steps that drew it. Every multi-task method leaves the
absent tasks out (`mtl_keras/methods/README.md`); those that combine a step's tasks have one to
combine here and at most rescale it.
"""

import numpy as np
import tensorflow as tf

from mtl_keras import errors
from mtl_keras.data import pipeline
from mtl_keras.data import source
from mtl_keras.protocols import base

ANNEALED_FLOOR = 0.8  # alpha falls from 1 by this much over the run


def task_sizes(split, tasks):
    """The number of training examples with a known label, per task."""
    return np.array([np.count_nonzero(split.known(task.name)) for task in tasks], np.float64)


def probabilities(sizes, sampling, temperature=1.0, epochs=1):
    """The tasks' probabilities in every epoch: an array epochs × tasks whose rows sum to 1.

    Args:
      sizes: the tasks' training examples.
      sampling: "uniform", "proportional" or "annealed".
      temperature: proportional sampling's temperature T: sizes ** (1 / T).
      epochs: the run's epochs.
    """
    sizes = np.asarray(sizes, np.float64)
    if sampling == "uniform":
        exponents = np.zeros(epochs)
    elif sampling == "proportional":
        exponents = np.full(epochs, 1.0 / temperature)
    elif sampling == "annealed":
        exponents = 1.0 - ANNEALED_FLOOR * np.arange(epochs) / max(epochs - 1, 1)
    else:
        raise ValueError(f"Unknown sampling {sampling!r}.")
    weights = np.where(sizes > 0, sizes[None, :] ** exponents[:, None], 0.0)
    return weights / weights.sum(axis=1, keepdims=True)


def task_choices(table, steps_per_epoch, seed):
    """An endless dataset of task indices, one per step: step s draws from the row of its
    epoch in `table` (epochs × tasks; the last row after the last epoch), seeded by (seed, s)."""
    logits = tf.math.log(tf.constant(table, tf.float32))
    last = len(table) - 1

    def draw(step):
        row = tf.minimum(step // steps_per_epoch, last)
        seed_pair = tf.stack([tf.constant(seed, tf.int64), step])
        return tf.random.stateless_categorical(logits[row][None], 1, seed=seed_pair)[0, 0]

    return tf.data.Dataset.counter().map(draw)


def task_examples(split, name, names):
    """`split` restricted to the examples of head `name`, every other head's mask 0."""
    known = split.known(name)
    masks = {other: (np.ones(int(known.sum()), np.float32) if other == name
                     else np.zeros(int(known.sum()), np.float32)) for other in names}
    return source.Split(split.images[known], {key: y[known] for key, y in split.labels.items()},
                        masks)


def sampled_dataset(split, tasks, table, steps_per_epoch, batch_size, seed, **pipeline_options):
    """The training pipeline of task sampling: batches of one task each, endless.

    Args:
      split: the training `Split`.
      tasks: the heads.
      table: the probabilities, epochs × tasks (`probabilities`).
      steps_per_epoch: training steps per epoch.
      batch_size: the global batch size.
      seed: the run's seed.
      **pipeline_options: augment, deterministic and random_erasing of `pipeline.make_dataset`.
    """
    names = [task.name for task in tasks]
    per_task = [pipeline.make_dataset(task_examples(split, name, names), batch_size, True,
                                      seed=seed * 1009 + index, **pipeline_options).repeat()
                for index, name in enumerate(names)]
    return tf.data.Dataset.choose_from_datasets(per_task, task_choices(table, steps_per_epoch, seed))


class TaskSampling(base.Protocol):
    """Each step, one task's batch."""

    flags = ("sampling", "sampling_temperature")

    def label(self, config):
        temperature = config.get("sampling_temperature", 1.0)
        extra = (f", T={temperature:g}"
                 if config["sampling"] == "proportional" and temperature != 1 else "")
        return f"task sampling, {config['sampling']}{extra}"

    def check(self, data, config):
        if not data.train.in_memory:
            raise errors.UserError(
                "--protocol=task_sampling builds one pipeline per task from images in memory, "
                "but these are streamed from disk; pass --in_memory=true.")
        small = [f"{task.name} ({int(size)})" for task, size in
                 zip(data.tasks, task_sizes(data.train, data.tasks)) if size < config.batch_size]
        if small:
            raise errors.UserError(
                f"--protocol=task_sampling takes batches of one task, but {', '.join(small)} "
                f"{'has' if len(small) == 1 else 'have'} fewer training examples than "
                f"--batch_size={config.batch_size}; use a smaller batch.")

    def training_dataset(self, data, config, steps_per_epoch):
        table = probabilities(task_sizes(data.train, data.tasks), config.sampling,
                              config.sampling_temperature, config.epochs)
        shown = ", ".join(f"{task.name} {share:.3f}" for task, share in zip(data.tasks, table[0]))
        print(f"[mtl_keras] task sampling ({config.sampling}), first epoch: {shown}", flush=True)
        return sampled_dataset(data.train, data.tasks, table, steps_per_epoch, config.batch_size,
                               config.seed, augment=config.augment,
                               deterministic=config.deterministic,
                               random_erasing=config.random_erasing)


base.PROTOCOLS.register("task_sampling")(TaskSampling())
