"""What a run shows of the validation split while it trains: the hierarchy consistency
every epoch, and every few epochs a confusion matrix per classifying head (multiclass or
binary) and a grid of images captioned with every head's prediction (TensorBoard's Images
tab)."""

import os

import keras
import numpy as np
import tensorflow as tf

from mtl_keras.data import pipeline
from mtl_keras.reporting import figures
from mtl_keras.reporting import metrics as metrics_lib

GRID_IMAGES = 16


def caption(task, prediction, label, known):
    """One caption line for one head of one image: (text, correct or None)."""
    return task.head_kind.caption(task, prediction, label, known)


class ValidationInspector(keras.callbacks.Callback):
    """Predicts the validation split after each epoch that needs it.

    Adds `val_hierarchy_consistency` to the epoch logs when the heads form a hierarchy;
    every `image_every` epochs and after the last, writes the images into
    `folder/validation_images`.
    """

    def __init__(self, split, tasks, hierarchy, folder, batch_size, epochs, image_every=5):
        super().__init__()
        self.split, self.tasks, self.hierarchy = split, tasks, hierarchy
        self.folder, self.batch_size = folder, batch_size
        self.epochs, self.image_every = epochs, image_every
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        images_due = (epoch + 1) % self.image_every == 0 or epoch + 1 == self.epochs
        if self.hierarchy is None and not images_due:
            return
        predictions = pipeline.predict(self.model, self.split, self.batch_size)
        if self.hierarchy is not None and logs is not None:
            predicted = {name: np.argmax(values, axis=1) for name, values in predictions.items()}
            logs["val_hierarchy_consistency"] = metrics_lib.hierarchy_metrics(
                self.hierarchy, predicted, self.split.labels)["hierarchy_consistency"]
        if images_due:
            self._write_images(epoch, predictions)

    def _write_images(self, epoch, predictions):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.folder,
                                                                      "validation_images"))
        pictures = {}
        for task in self.tasks:
            known = self.split.known(task.name)
            classes = task.head_kind.predicted_classes(
                task, predictions[task.name][known], self.split.labels[task.name][known])
            if classes is None:  # not one class per image: no confusion matrix
                continue
            labels, guesses, classes = classes
            pictures[f"confusion_{task.name}"] = figures.confusion_figure(
                figures.confusion_matrix(labels, guesses, classes), task.class_names,
                f"{task.name}, validation, epoch {epoch + 1}")
        shown = range(min(GRID_IMAGES, len(self.split)))
        captions = [[caption(task, predictions[task.name][index], self.split.labels[task.name][index],
                             self.split.known(task.name)[index]) for task in self.tasks]
                    for index in shown]
        pictures["predictions"] = figures.prediction_grid(self.split.first_images(len(shown)),
                                                          captions)
        with self._writer.as_default():
            for name, figure in pictures.items():
                tf.summary.image(name, tf.image.decode_png(figures.png(figure))[None],
                                 step=epoch + 1)
        self._writer.flush()
