"""Finished runs reused across studies: a study copies a run that another folder holds
finished by the same command, on the same data, by the same code, instead of training it,
and says so; it refuses every other run, and one that may still be written. A stand-in for
`python -m mtl_keras.run` writes a finished run's files as a run would (flags.txt,
data.json, config.json, metrics.json) and counts its calls; the git commit of the code is
the world's answer, given by the test."""

import json
import os
import stat
import sys
import textwrap

import pytest

from mtl_keras import errors
from mtl_keras import fileio
from mtl_keras import flagfiles
from mtl_keras.studies import comparison
from mtl_keras.studies import planning
from mtl_keras.studies import records
from mtl_keras.studies import runner
from mtl_keras.training import preparation
from mtl_keras.training import runner as training_runner

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SETTING = "--dataset=fashion_mnist\n--synthetic\n--synthetic_examples=64\n--trunk=lenet\n"

# Writes what a finished run writes (the texts the test gives it, in SETUP), or, when SETUP
# says "stop", only config.json, and exits 143 as a stopped run does.
FAKE_RUN = textwrap.dedent("""\
    #!{python}
    import json, os, sys
    arguments = dict(a[2:].split("=", 1) for a in sys.argv[3:] if "=" in a)
    workdir = arguments["workdir"]
    setup = json.load(open({setup!r}))
    open({calls!r}, "a").write(workdir + "\\n")
    os.makedirs(workdir, exist_ok=True)
    json.dump({{"protocol": "joint", "seed": int(arguments["seed"]), "workdir": workdir}},
              open(os.path.join(workdir, "config.json"), "w"))
    if setup["stop"]:
        sys.exit(143)
    run = setup["runs"][workdir]
    open(os.path.join(workdir, "flags.txt"), "w").write(run["flags"])
    json.dump(run["data"], open(os.path.join(workdir, "data.json"), "w"))
    json.dump({{"heads": {{"a": {{"accuracy": 0.5}}}}}},
              open(os.path.join(workdir, "metrics.json"), "w"))
""")


@pytest.fixture
def code(monkeypatch):
    """The commit the code is at, as git would answer: `code.commit` (set it to change it)."""

    class Code:
        commit = COMMIT

    monkeypatch.setattr(records, "commit", lambda: Code.commit)
    return Code


class Studies:
    """Studies of one setting into folders of `tmp_path`, with the stand-in run."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.flagfile = tmp_path / "joint.flags"
        self.flagfile.write_text(SETTING)
        self.calls = tmp_path / "calls.txt"
        self.setup = tmp_path / "setup.json"
        self.fake = tmp_path / "fake_python"
        self.fake.write_text(FAKE_RUN.format(python=sys.executable, setup=str(self.setup),
                                             calls=str(self.calls)))
        self.fake.chmod(self.fake.stat().st_mode | stat.S_IEXEC)

    def trained(self):
        """The folders the stand-in was called for, and forgets them."""
        called = self.calls.read_text().split() if self.calls.exists() else []
        self.calls.unlink(missing_ok=True)
        return called

    def run(self, name, overrides=None, seeds=(0,), data=None, stop=False, **options):
        """Runs study `name`; returns (exit status, its [study] lines)."""
        folder = str(self.tmp_path / name)
        settings = planning.expand([str(self.flagfile)], overrides)
        runs = {}
        for planned in planning.plan(settings, seeds, folder, None):
            config = flagfiles.from_arguments(planned.training_arguments)
            runs[planned.workdir] = {"flags": flagfiles.flagfile_text(config),
                                     "data": data or preparation.data_fingerprint(config)}
        self.setup.write_text(json.dumps({"runs": runs, "stop": stop}))
        lines = []
        status = runner.study([str(self.flagfile)], list(seeds), folder, overrides,
                              python=str(self.fake), log=lines.append, reuse_process=False,
                              **options)
        return status, [line for line in lines if line.startswith("[study] run ")]


@pytest.fixture
def studies(tmp_path, code):
    del code
    return Studies(tmp_path)


def test_a_run_finished_in_another_study_is_copied_said_and_compared(studies):
    assert studies.run("first")[0] == 0
    first = studies.tmp_path / "first" / "joint-seed0"
    assert studies.trained() == [str(first)]
    status, lines = studies.run("second")
    assert status == 0 and studies.trained() == []
    second = studies.tmp_path / "second" / "joint-seed0"
    assert lines == [f"[study] run 1 of 1: joint-seed0: reused from {first} (same flags, data "
                     f"and code)"]
    for name in ("flags.txt", "data.json", "config.json", "metrics.json"):
        assert (second / name).read_text() == (first / name).read_text()
    record = json.loads((second / comparison.STUDY_RECORD).read_text())
    original = json.loads((first / comparison.STUDY_RECORD).read_text())
    assert record == {**original, "reused_from": str(first)}
    assert record["commits"] == [COMMIT]
    finished, unfinished = comparison.find_runs([str(studies.tmp_path / "second")])
    assert [run.path for run in finished] == [str(second)] and unfinished == []
    assert "joint" in (studies.tmp_path / "second" / "comparison.md").read_text()
    assert not [name for name in os.listdir(studies.tmp_path / "second") if name.startswith(".")]


def test_how_a_run_is_kept_may_differ_but_not_its_seed_or_settings(studies):
    studies.run("first", seeds=(0, 1))
    studies.trained()
    status, lines = studies.run("kept", {"checkpoint_minutes": 3.0}, seeds=(0, 1, 2))
    assert status == 0
    assert [line.split(": ", 2)[2].split(" (")[0] for line in lines[:2]] == [
        f"reused from {studies.tmp_path / 'first' / f'joint-seed{seed}'}" for seed in (0, 1)]
    kept = studies.tmp_path / "kept" / "joint-checkpoint_minutes=3.0-seed2"
    assert studies.trained() == [str(kept)]
    # Seed 2 has no candidate at all (not one refused for its data, which the seed also makes).
    assert lines[2].startswith("[study] run 3 of 3: joint-checkpoint_minutes=3.0-seed2 (elapsed")
    studies.run("other", {"epochs": 2})
    assert len(studies.trained()) == 1  # another setting: trained


@pytest.mark.parametrize("change, refusal", [
    ("data", "it trained on other data (the images differ)"),
    ("commit", "it was trained by other code"),
    ("changes", "this code has uncommitted changes"),
    ("dirty_run", "it was trained by code with uncommitted changes"),
    ("versions", "it ran other versions"),
    ("lock", "a process is writing into it"),
    ("saved_state", "it is still being written"),
    ("looser_growth", "it ran with --max_loss_growth=0, looser than 1e+06"),
    ("damaged_metrics", "its metrics.json is damaged"),
])
def test_a_run_of_other_data_or_code_or_being_written_is_refused(studies, code, change,
                                                                 refusal):
    data = None
    if change == "data":  # the first study's run trained on other images
        planned = planning.plan(planning.expand([str(studies.flagfile)]), [0], "x", None)[0]
        config = flagfiles.from_arguments(planned.training_arguments)
        data = {**preparation.data_fingerprint(config), "images": "0" * 24}
    studies.run("first", {"max_loss_growth": 0.0} if change == "looser_growth" else None,
                data=data)
    first = next((studies.tmp_path / "first").glob("joint*-seed0"))
    record_path = first / comparison.STUDY_RECORD
    record = json.loads(record_path.read_text())
    lock = fileio.WorkdirLock(str(first))
    if change == "commit":
        code.commit = "f" * 40
    elif change == "changes":
        code.commit = COMMIT + "+changes"
    elif change in ("dirty_run", "versions"):
        edit = ({"commits": [COMMIT + "+changes"]} if change == "dirty_run"
                else {"versions": {**record["versions"], "tensorflow": "0.1"}})
        record_path.write_text(json.dumps({**record, **edit}))
    elif change == "lock":
        lock.acquire()
    elif change == "damaged_metrics":
        (first / "metrics.json").write_text("{")
    elif change == "saved_state":
        (first / "checkpoints").mkdir()
        (first / "checkpoints" / "state.json").write_text("{}")
    studies.trained()
    try:
        status, lines = studies.run("second")
    finally:
        lock.release()
    assert status == 0
    assert lines[0].startswith(f"[study] run 1 of 1: joint-seed0: not reused from {first}: "
                               f"{refusal}")
    assert studies.trained() == [str(studies.tmp_path / "second" / "joint-seed0")]


def test_reuse_from_names_the_folders_searched(studies):
    studies.run("first")
    studies.trained()
    studies.run("deeper/second")  # its parent, deeper/, holds no finished run
    assert len(studies.trained()) == 1
    studies.run("deeper/third", reuse_from=[str(studies.tmp_path / "first")])
    assert studies.trained() == []
    with pytest.raises(errors.UserError, match="--reuse_from=.*nowhere: no such folder"):
        studies.run("deeper/fourth", reuse_from=[str(studies.tmp_path / "nowhere")])


def test_a_stricter_max_loss_growth_reuses_and_noreuse_always_trains(studies):
    studies.run("first", {"max_loss_growth": 100.0})
    studies.trained()
    studies.run("second", {"max_loss_growth": 1000.0})
    assert studies.trained() == []
    studies.run("third", {"max_loss_growth": 1000.0}, reuse=False)
    assert len(studies.trained()) == 1


def test_a_run_resumed_after_the_code_changed_records_both_and_is_not_reused(studies, code):
    studies.run("first", stop=True)
    first = studies.tmp_path / "first" / "joint-seed0"
    assert not (first / "metrics.json").exists()
    assert (first / records.COMMITS).read_text().split() == [COMMIT]
    code.commit = "e" * 40
    studies.run("first")  # resumed by other code, finished
    record = json.loads((first / comparison.STUDY_RECORD).read_text())
    assert record["commits"] == [COMMIT, "e" * 40] and record["commit"] == "e" * 40
    assert not (first / records.COMMITS).exists()
    studies.trained()
    status, lines = studies.run("second")
    assert lines[0].endswith(f"not reused from {first}: its attempts ran different code "
                             f"({COMMIT}, {'e' * 40})")
    assert len(studies.trained()) == 1


def test_a_run_started_outside_the_study_counts_an_unknown_attempt(studies):
    workdir = studies.tmp_path / "first" / "joint-seed0"
    workdir.mkdir(parents=True)
    (workdir / "config.json").write_text("{}")  # an attempt by hand, stopped
    studies.run("first")
    record = json.loads((workdir / comparison.STUDY_RECORD).read_text())
    assert record["commits"] == [records.UNKNOWN, COMMIT]


def test_the_comparison_skips_a_hidden_folder_a_copy_is_made_in(studies):
    studies.run("first")
    hidden = studies.tmp_path / "first" / ".joint-seed1.reused-x"
    hidden.mkdir()
    for name in ("flags.txt", "config.json", "metrics.json"):
        (hidden / name).write_text((studies.tmp_path / "first" / "joint-seed0" / name).read_text())
    finished, unfinished = comparison.find_runs([str(studies.tmp_path / "first")])
    assert [os.path.basename(run.path) for run in finished] == ["joint-seed0"]
    assert unfinished == []


def test_the_fingerprint_a_study_computes_is_the_one_a_run_writes(tmp_path):
    # A single-task run: the fingerprint is of the data its protocol gives it (one head).
    workdir = tmp_path / "run"
    arguments = [f"--flagfile={tmp_path / 'single.flags'}", "--task=fine", "--seed=3",
                 f"--workdir={workdir}"]
    (tmp_path / "single.flags").write_text(
        "--dataset=fashion_mnist\n--synthetic\n--synthetic_examples=128\n--trunk=lenet\n"
        "--epochs=1\n--batch_size=32\n--protocol=single_task\n--validation_size=0\n")
    config = flagfiles.from_arguments(arguments)
    training_runner.train(config)
    written = json.loads((workdir / "data.json").read_text())
    assert preparation.data_fingerprint(config) == written
