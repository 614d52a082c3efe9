"""Learning to branch: Guo, Lee and Ulbricht 2020, "Learning to Branch for Multi-Task
Learning" (ICML).

One column per task, each a copy of the trunk with its own weights. Before every stage but
the first, each column chooses the column whose previous stage it reads: the choice of
column t is a sample of the Gumbel-softmax over learned logits theta_t (one T×T matrix per
junction), hard (one-hot) in the forward pass and soft in the backward pass (straight-
through), so the logits learn which branching serves the tasks; as they sharpen, columns
that read the same parent share it: the tree of branches. Each task's head reads its own
column's last stage. As LibMTL's `LTB`: logits start at 1 (every choice equally likely);
at inference the most likely choice is taken (LibMTL samples then too; a saved model
answers deterministically here).

As LibMTL, a warm-up comes first, in which each column reads the sum of all (every column
learns); it lasts `warmup_steps` training steps (LibMTL: epochs / 100 epochs). Kept small:
LibMTL then anneals the temperature as epochs / 20 / sqrt(epoch + 1); here it is the fixed
option `temperature`. The draws are stateless functions of `seed` and a count of training
calls kept by the layer (the same on every replica, saved with the model).
"""

import keras
from keras import layers
from keras import ops
import tensorflow as tf

from mtl_keras import registry
from mtl_keras.models.architectures import base


@base.register("ltb")
class LearningToBranch(base.Architecture):
    """One trunk per task; each stage reads a column chosen by Gumbel-softmax."""

    HYPERPARAMETERS = {
        "temperature": registry.Option(1.0, "the Gumbel-softmax temperature (LibMTL anneals it "
                                       "from epochs / 20)", minimum=1e-2, maximum=100),
        "warmup_steps": registry.Option(100, "training steps in which each column reads the sum "
                                        "of all (LibMTL: epochs / 100 epochs)", minimum=0,
                                        maximum=10 ** 9, whole=True),
        "seed": registry.Option(0, "the seed of the branch draws", minimum=0, maximum=2 ** 31 - 1,
                                whole=True),
    }
    minimum_stages = 2

    def stage_reason(self):
        return "its columns choose their parent between stages"

    def build(self, tasks, trunk, images):
        names = [task.name for task in tasks]
        columns = [trunk.stages[0](images) for _ in names]
        for index, stage in enumerate(trunk.stages[1:]):
            chosen = BranchChoice(len(names), self.options["temperature"],
                                  self.options["seed"] * 1009 + index,
                                  self.options["warmup_steps"])(columns)
            columns = [stage(column) for column in chosen]
        return base.Built({name: trunk.pool(column) for name, column in zip(names, columns)})


@keras.saving.register_keras_serializable(package="mtl_keras")
class BranchChoice(layers.Layer):
    """T inputs of one shape → T outputs; output t is the input that column t chose.

    Args:
      columns: T.
      temperature: the Gumbel-softmax temperature.
      seed: the seed of the draws.
      warmup_steps: training calls in which every output is the sum of the inputs.
    """

    def __init__(self, columns, temperature=1.0, seed=0, warmup_steps=0, **kwargs):
        super().__init__(**kwargs)
        self.columns = int(columns)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.warmup_steps = int(warmup_steps)

    def build(self, input_shapes):
        self.logits = self.add_weight(shape=(self.columns, self.columns), name="logits",
                                      initializer="ones")
        self.draws = self.add_weight(shape=(), name="draws", initializer="zeros",
                                     dtype="int64", trainable=False,
                                     aggregation="only_first_replica")

    def call(self, inputs, training=False):
        if training:
            warming = self.draws.value < self.warmup_steps
            choice = self._sample()
            choice = tf.where(warming, tf.ones_like(choice), choice)
        else:
            choice = tf.one_hot(tf.argmax(self.logits, axis=-1), self.columns,
                                dtype=self.logits.dtype)
        stacked = ops.stack(inputs, axis=0)  # (T, batch, ...)
        mixed = ops.tensordot(ops.cast(choice, stacked.dtype), stacked, axes=1)
        return list(ops.unstack(mixed, num=self.columns, axis=0))

    def _sample(self):
        """Hard Gumbel-softmax, soft gradients (straight-through), one draw per call."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), self.draws.value])
        uniform = tf.random.stateless_uniform((self.columns, self.columns), seed,
                                              minval=1e-10, maxval=1.0)
        noisy = (self.logits - tf.math.log(-tf.math.log(uniform))) / self.temperature
        soft = tf.nn.softmax(noisy, axis=-1)
        hard = tf.one_hot(tf.argmax(soft, axis=-1), self.columns, dtype=soft.dtype)
        self.draws.assign_add(1)
        return hard + soft - tf.stop_gradient(soft)

    def compute_output_shape(self, input_shapes):
        return [tuple(shape) for shape in input_shapes]

    def get_config(self):
        return {**super().get_config(), "columns": self.columns,
                "temperature": self.temperature, "seed": self.seed,
                "warmup_steps": self.warmup_steps}
