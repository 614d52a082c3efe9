"""The exceptions that end a run with a message for people instead of a traceback."""

import signal
import sys


class UserError(ValueError):
    """Bad user input: the message is one sentence saying what is wrong and how to fix it.

    The entry point prints the message without a traceback and exits with status 2.
    """


class RunStopped(Exception):
    """A run stopped before its end; the message says where its saved state is.

    Attributes:
      exit_status: the status the entry point exits with.
    """

    exit_status = 1


class Diverged(RunStopped):
    """A head's training loss became NaN or infinite, or grew past --max_loss_growth times
    its first value: exit status 3."""

    exit_status = 3


class Interrupted(RunStopped):
    """SIGINT or SIGTERM asked the run to stop: exit status 128 + the signal's number
    (130 for SIGINT, 143 for SIGTERM), as shells report a process a signal ended."""

    def __init__(self, message, signal_number=signal.SIGINT):
        super().__init__(message)
        self.exit_status = 128 + int(signal_number)


def refuse(error):
    """Prints `error` (a UserError) as one `error:` line on stderr; returns the exit status
    of bad input, 2."""
    print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
    return 2
