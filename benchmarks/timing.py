"""Timing helpers shared by the benchmark scripts."""

import time

import keras


class StepClock(keras.callbacks.Callback):
    """Records the time at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())
