"""Finished runs reused across studies: a run that a study is about to train, which another
folder holds finished by the same command on the same data with the same code, is copied
into the study instead of trained again.

The candidates are the finished runs (metrics.json and flags.txt) under the search roots
whose flags, read as a `Config`, equal the planned run's but for how a run is kept
(`IGNORED`: --workdir, --experiment, --checkpoint_minutes, --max_loss_growth,
--progress_seconds). The first one that passes every check below is copied:

- the code: this code is a git commit without uncommitted changes, and every attempt that
  trained the candidate ran that same commit without changes (its study_run.json's
  `commits`: a run resumed after the code changed is refused); the same versions of Python,
  TensorFlow, Keras and NumPy (`versions`);
- at rest: no process holds its folder's lock, no saved state is left in it (a run removes
  it once metrics.json is written) and its study wrote study_run.json;
- no looser --max_loss_growth than the planned run's: a loss that grew past the planned run's
  limit would have stopped it (a run whose loss became NaN or infinite never finishes);
- the data: the candidate's data.json equals the fingerprint of the data the planned run
  would train on (`preparation.data_fingerprint`: the data loaded here as the run loads it,
  nothing trained). Checked last, and once per planned run: it costs a load of the data
  (decoding, for images held in memory), a small part of a run's wall time.

The copy is made under a hidden name beside the run's folder, then renamed to it: the
comparison, which skips hidden folders, sees no run or the whole one. Its study_run.json
is the candidate's with `reused_from`, the folder it was copied from.
"""

import json
import os
import shutil
import tempfile

from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras import flagfiles
from mtl_keras.studies import comparison
from mtl_keras.studies import records
from mtl_keras.training import preparation
from mtl_keras.training import run_state
from mtl_keras.training import workdir as workdir_lib

# A run of another seed is another run: only how a run is kept may differ.
IGNORED = comparison.NOT_A_SETTING - {"seed"}


def settings_key(config):
    """What two runs of the same command share: their settings but `IGNORED`, as text."""
    fields = {name: value for name, value in config.to_dict().items() if name not in IGNORED}
    return json.dumps(fields, sort_keys=True, default=str)


def find_finished(roots):
    """{settings key: [folders]} of the finished runs under `roots` (hidden folders skipped)."""
    found, seen = {}, set()
    for root in roots:
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            if "config.json" in files or "metrics.json" in files:
                subfolders.clear()  # a run's own folders hold no other run
            real = os.path.realpath(folder)
            if "metrics.json" not in files or "flags.txt" not in files or real in seen:
                continue
            seen.add(real)
            try:
                config = flagfiles.read_flagfile(os.path.join(folder, "flags.txt"))
            except (errors.UserError, ValueError):
                continue  # flags another version of the package wrote: not this command
            found.setdefault(settings_key(config), []).append(folder)
    return found


def _read_record(folder, name):
    try:
        value = fileio.read_json(os.path.join(folder, name))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _code_refusal(record, code, versions):
    """Why the run `record` (its study_run.json) describes ran other code, or None."""
    if record is None:
        return "no study recorded the code that trained it (no readable study_run.json)"
    commits = record.get("commits")
    if not isinstance(commits, list) or not commits:
        return "its study_run.json does not say the code of every attempt"
    if commits != [code]:
        other = ", ".join(str(commit) for commit in commits)
        if len(commits) > 1:
            return f"its attempts ran different code ({other})"
        if str(commits[0]).endswith("+changes"):
            return f"it was trained by code with uncommitted changes ({other})"
        return f"it was trained by other code ({other}; this is {code})"
    if record.get("versions") != versions:
        return f"it ran other versions ({record.get('versions')}; these are {versions})"
    return None


def _busy_refusal(folder):
    """Why `folder` may still be written (or was damaged), or None."""
    try:
        fileio.WorkdirLock(folder).check_free()
    except errors.UserError:
        return "a process is writing into it"
    metrics = _read_record(folder, "metrics.json")
    if metrics is None or "heads" not in metrics:
        return "its metrics.json is damaged"
    if os.path.exists(os.path.join(folder, run_state.FOLDER, run_state.INDEX)) or any(
            os.path.exists(os.path.join(folder, name))
            for name in (records.ATTEMPTS, records.COMMITS)):
        return "it is still being written (its saved state or its study's hidden files remain)"
    return None


def _growth_refusal(candidate, planned):
    """Why the candidate (a `Config`) might not have finished under the planned run's
    --max_loss_growth (0: no limit), or None."""
    limit, ran_with = planned.max_loss_growth, candidate.max_loss_growth
    if not limit or (ran_with and ran_with <= limit):
        return None
    return (f"it ran with --max_loss_growth={ran_with:g}, looser than {limit:g}: under this "
            f"run's limit it might have stopped")


class Reuse:
    """A study's search for finished runs to reuse (the module's docstring says which).

    Attributes:
      roots: the folders searched, at any depth.
      code: this code's commit (`records.commit`); versions: `records.versions()`.
    """

    def __init__(self, roots, log=print):
        self.roots = [os.path.abspath(root) for root in roots]
        self.log = log
        self.code, self.versions = records.commit(), records.versions()
        self._finished = None

    def candidates(self, planned, config):
        """The folders holding a finished run of `planned`'s command (`config`)."""
        if self._finished is None:  # found once, when the study first needs it
            self._finished = find_finished(self.roots)
        own = os.path.realpath(planned.workdir)
        return [folder for folder in self._finished.get(settings_key(config), [])
                if os.path.realpath(folder) != own]

    def take(self, planned, heading):
        """Copies a finished run of `planned`'s command into its folder, saying so in a line
        that `heading` ("run i of n: NAME") starts; returns whether it did. A folder that
        holds files of its own is left to its run (which resumes)."""
        if _own_files(planned.workdir):
            return False
        config = flagfiles.from_arguments(planned.training_arguments)
        candidates = self.candidates(planned, config)
        if not candidates:
            return False
        if not self.code or self.code.endswith("+changes"):
            why = ("this code is not a git commit" if not self.code
                   else "this code has uncommitted changes")
            self.log(f"[study] {heading}: not reused from {candidates[0]}: {why}")
            return False
        fingerprint, refusals = [], []
        for folder in candidates:
            refusal = self._refusal(folder, config, fingerprint)
            if refusal is None:
                return self._copy(folder, planned.workdir, heading)
            refusals.append(f"not reused from {folder}: {refusal}")
        self.log(f"[study] {heading}: {refusals[0]}")
        return False

    def _refusal(self, folder, config, fingerprint):
        """Why the finished run in `folder` is not the planned run (`config`), or None.
        `fingerprint`: a list holding the planned run's data fingerprint once computed."""
        refusal = (_code_refusal(_read_record(folder, comparison.STUDY_RECORD), self.code,
                                 self.versions)
                   or _busy_refusal(folder)
                   or _growth_refusal(flagfiles.read_flagfile(os.path.join(folder, "flags.txt")),
                                      config))
        if refusal:
            return refusal
        stored = _read_record(folder, workdir_lib.DATA)
        if stored is None:
            return "it kept no readable data.json, so its data cannot be compared"
        if not fingerprint:
            try:
                fingerprint.append(preparation.data_fingerprint(config))
            except errors.UserError as error:
                return f"the data of this run cannot be loaded here ({error})"
        changed = preparation.data_differences(stored, fingerprint[0])
        return f"it trained on other data ({', '.join(changed)} differ)" if changed else None

    def _copy(self, source, target, heading):
        """Copies the run in `source` to `target` through a hidden folder; returns True, or
        False (said in a line) when the copy fails."""
        parent, name = os.path.split(os.path.abspath(target))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{name}.reused-", dir=parent)
        try:
            shutil.copytree(source, staging, dirs_exist_ok=True,
                            ignore=lambda folder, names: [n for n in names if n.startswith(".")])
            record = _read_record(source, comparison.STUDY_RECORD)
            fileio.write_json(os.path.join(staging, comparison.STUDY_RECORD),
                              {**record, "reused_from": os.path.abspath(source)})
            if os.path.isdir(target):  # only hidden files of an attempt that wrote nothing
                shutil.rmtree(target)
            os.rename(staging, target)
        except OSError as error:
            self.log(f"[study] {heading}: not reused from {source}: the copy failed ({error})")
            return False
        finally:  # also when a signal stops the study in the middle of the copy
            shutil.rmtree(staging, ignore_errors=True)
        self.log(f"[study] {heading}: reused from {source} (same flags, data and code)")
        return True


def _own_files(folder):
    """Whether `folder` holds files of a run (hidden ones aside), or a process's lock."""
    if not os.path.isdir(folder):
        return False
    try:
        fileio.WorkdirLock(folder).check_free()
    except errors.UserError:
        return True
    return any(not name.startswith(".") for name in os.listdir(folder))
