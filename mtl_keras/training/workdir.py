"""What a run's folder may hold when the run starts: nothing (a new run), or the files of
the same command that stopped before its end (the run resumes). Everything else is
refused with one sentence, before anything is written.
"""

import json
import os
import re

from mtl_keras import config as config_lib
from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras import size_rule
from mtl_keras.data import fingerprint as fingerprint_lib

CONFIG = "config.json"
DATA = "data.json"  # the data's fingerprint (`data.fingerprint`): a resume must match it
FLAGFILE = "flags.txt"
METRICS = "metrics.json"
# Settings a resumed run may change.
NOT_COMPARED = config_lib.KEEPING_ONLY


def _entries(folder, ignore_workers):
    """The names in `folder` that belong to a run: hidden files (the lock, files being
    written) and, for the chief, the other workers' folders do not count."""
    if not os.path.isdir(folder):
        return set()
    names = {name for name in os.listdir(folder) if not name.startswith(".")}
    if ignore_workers:
        names = {name for name in names if not re.fullmatch(r"(worker|chief)-\d+", name)}
    return names


def check_writable(folder):
    """Raises UserError when `folder` is a file, or cannot be made or written."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise errors.UserError(f"--workdir={folder} is a file, not a folder; pass a folder.")
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise errors.UserError(f"--workdir={folder} lies under the file {existing}; pass a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise errors.UserError(f"--workdir={folder} cannot be written here ({existing} is not "
                               f"writable); pass a folder you can write.")


def _differences(stored, current, skip=()):
    """`--flag (was X, now Y)` for every setting in which two configs differ."""
    keys = sorted((set(stored) | set(current)) - NOT_COMPARED - set(skip))
    return [f"--{key} (was {stored.get(key)!r}, now {current.get(key)!r})"
            for key in keys if stored.get(key) != current.get(key)]


def _refuse_other_command(folder, stored, config, skip=()):
    # Through JSON, as the stored one went, so that tuples and lists compare equal.
    current = json.loads(json.dumps(config.to_dict()))
    differences = _differences(stored, current, skip)
    if differences:
        raise errors.UserError(
            f"--workdir={folder} holds an unfinished run of another command, which differs in "
            f"{', '.join(differences)}; rerun it with --flagfile={os.path.join(folder, FLAGFILE)} "
            f"--workdir={folder} to resume it, or pass a new --workdir.")


def _stored_config(folder):
    with open(os.path.join(folder, CONFIG), encoding="utf-8") as stored_file:
        return json.load(stored_file)


def check_resolved(folder, config):
    """After the settings left to the dataset's size are chosen: raises UserError when the
    unfinished run in `folder` was made with other values of them."""
    _refuse_other_command(folder, _stored_config(folder), config)


def check_data(folder, fingerprint):
    """Raises UserError when the unfinished run in `folder` trained on other data than
    `fingerprint` (`data.fingerprint.of`) describes. A run that kept no fingerprint (it
    stopped before writing one) is not checked."""
    path = os.path.join(folder, DATA)
    if not os.path.exists(path):
        return
    try:
        stored = fileio.read_json(path)
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        raise errors.UserError(f"{path} is damaged, so this run's data cannot be checked; remove "
                               f"that file to resume the run on the data given now, or pass a "
                               f"new --workdir.")
    changed = fingerprint_lib.changes(stored, fingerprint)
    if changed:
        raise errors.UserError(
            f"--workdir={folder} holds an unfinished run that trained on other data: "
            f"{', '.join(changed)} changed since it started; pass a new --workdir to start "
            f"afresh, or give it back the data it started on to resume it.")


def write_missing(folder, config, fingerprint, flagfile_text):
    """Writes the files a run's folder holds from its start (config.json first: a folder
    holding it is a run that a rerun may resume; then its data's fingerprint and
    flags.txt), each only if it is missing: a resumed run puts back a lost flags.txt."""
    files = [(CONFIG, lambda path: fileio.write_json(path, {**config.to_dict(), "workdir": folder})),
             (DATA, lambda path: fileio.write_json(path, fingerprint)),
             (FLAGFILE, lambda path: fileio.write_text(path, flagfile_text))]
    for name, write in files:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            write(path)


def check(folder, config, ignore_workers=False):
    """Checks that a run of `config` may write into `folder`; writes nothing.

    Returns:
      True when `folder` holds an unfinished run of the same command (it resumes),
      False when the folder is new or empty.

    Raises:
      UserError: `folder` is a file or not writable; another process is writing into it;
        it holds files that are not a run, a finished run, or a run of another command.
    """
    check_writable(folder)
    fileio.WorkdirLock(folder).check_free()
    names = _entries(folder, ignore_workers)
    if not names:
        return False
    if CONFIG not in names:
        raise errors.UserError(f"--workdir={folder} already holds files that are not a run; "
                               f"pass a new --workdir or remove that one.")
    if METRICS in names:
        raise errors.UserError(f"--workdir={folder} holds a finished run; pass a new --workdir "
                               f"or remove that one.")
    # Settings still left to the dataset's size are compared once chosen (check_resolved).
    _refuse_other_command(folder, _stored_config(folder), config,
                          skip={name for name, value in size_rule.AUTO.items()
                                if getattr(config, name) == value})
    return True
