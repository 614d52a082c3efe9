"""The one exception type for mistakes in user input."""


class UserError(ValueError):
    """Bad user input: the message is one sentence saying what is wrong and how to fix it.

    The entry point prints the message without a traceback and exits with status 2.
    """
