"""SIGINT and SIGTERM: during training, stop at the end of the step with the state saved;
at any other moment, stop at once. A second signal always stops at once."""

import signal

from mtl_keras import errors

NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class StopRequest:
    """What the signal handlers and the training loop share.

    Attributes:
      signal_number: the signal that asked training to stop, or None.
      deferred: True while a training loop will look at `signal_number` after each step.
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
        if self.deferred and self.signal_number is None:
            self.signal_number = number
            print(f"[mtl_keras] {NAMES[number]}: stopping after this step (send it again to "
                  f"stop at once)", flush=True)
            return
        raise errors.Interrupted(f"stopped by {NAMES[number]}; {self.where}", number)
