"""The figures the train step logs each epoch, as Keras metrics."""

import itertools

import keras
import tensorflow as tf


class StepLogs:
    """The epoch averages the train step logs: each task's loss, the total, and the
    method's diagnostics (effective task weights; with gradient methods, the task
    gradients' norms and their pairwise cosines)."""

    def __init__(self, names, logs_weights, gradient_level):
        self.names = names
        self.losses = {name: keras.metrics.Mean(name=f"{name}_loss") for name in names}
        self.weights = {}
        if logs_weights:
            self.weights = {name: keras.metrics.Mean(name=f"{name}_weight") for name in names}
        self.norms, self.cosines = {}, {}
        if gradient_level:
            self.norms = {name: keras.metrics.Mean(name=f"{name}_gradient_norm") for name in names}
            self.cosines = {pair: keras.metrics.Mean(name=f"gradient_cosine_{pair[0]}_{pair[1]}")
                            for pair in itertools.combinations(names, 2)}
        self.diagnostic_names = {metric.name for metric in self.diagnostics()}

    def diagnostics(self):
        return [*self.weights.values(), *self.norms.values(), *self.cosines.values()]

    def all(self):
        return [*self.losses.values(), *self.diagnostics()]

    def update_losses(self, losses):
        # Weighted by the batch's known labels: an epoch's figure is the mean over all the
        # known labels of the epoch, whatever their share in each batch.
        for name, value, count in zip(self.names, tf.unstack(losses.global_unweighted),
                                      tf.unstack(losses.global_counts)):
            self.losses[name].update_state(value, sample_weight=count)

    # The diagnostics average over the steps in which the tasks had known labels: a task
    # absent from a step (task sampling, empty label cells) has no weight or gradient there.
    def update_weights(self, weights, counts):
        present = tf.cast(counts > 0, tf.float32)
        for index, name in enumerate(self.names):
            if name in self.weights:
                self.weights[name].update_state(weights[index], sample_weight=present[index])

    def update_gradients(self, gramian, counts):
        present = tf.cast(counts > 0, tf.float32)
        norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(gramian), 0.0))
        for index, name in enumerate(self.names):
            self.norms[name].update_state(norms[index], sample_weight=present[index])
        for (first, second), metric in self.cosines.items():
            i, j = self.names.index(first), self.names.index(second)
            metric.update_state(tf.math.divide_no_nan(gramian[i, j], norms[i] * norms[j]),
                                sample_weight=present[i] * present[j])
