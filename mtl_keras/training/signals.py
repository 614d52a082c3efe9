"""SIGINT and SIGTERM: while a run trains, validates, tests or writes its outputs, stop at
the next point where the files on disk are whole (the end of a training step with the
state saved, the end of the epoch's validation, a test batch, before an output is
written); before that (checks, data loading), stop at once. A second signal always stops
at once.

A signal's exception raised at once can be swallowed by the code it interrupts (a
generator being closed, an object being destroyed): the signal is recorded first, and
`StopRequest.check`, called between the phases of a run, stops it all the same."""

import signal

import keras

from mtl_keras import errors

NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class StopRequest:
    """What the signal handlers and the run share.

    Attributes:
      signal_number: the first signal received, or None.
      deferred: True while the run looks at `signal_number` at its safe points (after
        each step, each test batch, between its phases).
      where: a sentence saying where the run's state is, for stops outside training.
    """

    def __init__(self):
        self.signal_number = None
        self.deferred = False
        self.where = "nothing was trained yet; rerun the same command to start again."

    def install(self):
        """Makes SIGINT and SIGTERM call `handle`."""
        for number in NAMES:
            signal.signal(number, self.handle)

    def handle(self, number, frame):
        """The signal handler."""
        del frame
        first = self.signal_number is None
        if first:
            self.signal_number = number
        if self.deferred and first:
            print(f"[mtl_keras] {NAMES[number]}: stopping at the end of this step or batch "
                  f"(send it again to stop at once)", flush=True)
            return
        raise errors.Interrupted(f"stopped by {NAMES[number]}; {self.where}", number)

    def check(self):
        """Raises `errors.Interrupted` if a signal asked the run to stop."""
        if self.signal_number is not None:
            raise errors.Interrupted(f"stopped by {NAMES[self.signal_number]}; {self.where}",
                                     self.signal_number)


class StopCheck(keras.callbacks.Callback):
    """Stops a prediction or an evaluation at the end of the batch in which a signal came."""

    def __init__(self, stop):
        super().__init__()
        self.stop = stop

    def on_predict_batch_end(self, batch, logs=None):
        self.stop.check()

    def on_test_batch_end(self, batch, logs=None):
        self.stop.check()
