"""What every command shares: its own flags parsed with --help, and errors for people."""

import sys

from absl import flags

from mtl_keras import errors


def new_flags():
    """A command's own `FlagValues`, with --help (-h)."""
    flag_values = flags.FlagValues()
    flags.DEFINE_bool("help", False, "Show this help and exit.", short_name="h",
                      flag_values=flag_values)
    return flag_values


def parse(flag_values, argv, doc, takes_arguments=False, hint="flags look like --name=value"):
    """Parses `argv` into `flag_values`; with --help, prints the command's help.

    Args:
      flag_values: the command's own flags (from `new_flags`).
      argv: the command line, argv[0] the program.
      doc: the command's module docstring, the head of its help.
      takes_arguments: whether the command takes positional arguments.
      hint: how to give what an unexpected argument may have meant.

    Returns:
      The positional arguments, or None when the help was printed.

    Raises:
      UserError: an unknown flag, a bad value, or an unexpected argument.
    """
    arguments = parse_flags(flag_values, argv)
    if flag_values.help:
        print(help_text(doc, flag_values))
        return None
    if arguments and not takes_arguments:
        raise errors.UserError(f"unexpected arguments {' '.join(arguments)}; {hint}.")
    return arguments


def parse_flags(flag_values, argv, hint=" (--help lists the flags)"):
    """Parses `argv` into `flag_values` from their defaults; returns the arguments left over.

    absl's own messages become one `UserError` sentence: a missing flagfile names its path.

    Raises:
      UserError: an unknown flag, a bad value, or an unreadable flagfile.
    """
    flag_values.unparse_flags()
    try:
        return flag_values(argv)[1:]
    except flags.CantOpenFlagFileError as error:
        cause = error.__context__  # the OSError that absl reworded
        if isinstance(cause, OSError) and cause.filename:
            raise errors.UserError(f"--flagfile={cause.filename} cannot be read "
                                   f"({cause.strerror}); check the path.") from None
        raise errors.UserError(str(error)) from None
    except (flags.Error, ValueError) as error:  # absl raises ValueError for --noBOOL=value
        raise errors.UserError(f"{' '.join(str(error).split())}{hint}.") from None


def help_text(module_doc, flag_values):
    """The text of `COMMAND --help`: the command's docstring, then its flags."""
    return f"{module_doc.strip()}\n\nflags:\n{flag_values.get_help()}"


def run(function, *args):
    """Calls `function(*args)` and turns the library's exceptions into exit statuses: 2 for
    bad input (one `error:` line), a stopped run's own (3 diverged, 130/143 signals)."""
    try:
        result = function(*args)
    except errors.UserError as error:
        return errors.refuse(error)
    except errors.RunStopped as stopped:
        print(f"error: {stopped}" if isinstance(stopped, errors.Diverged) else f"{stopped}",
              file=sys.stderr, flush=True)
        return stopped.exit_status
    return result or 0
