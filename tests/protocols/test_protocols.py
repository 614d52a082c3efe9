"""Each protocol trains through the entry point (tiny, in process); a saved run evaluates to
its own metrics.json; every protocol flagfile parses; bad protocol input is refused."""

import json

import numpy as np

import pytest

from mtl_keras import cli
from mtl_keras import config as config_lib
from mtl_keras import data as data_lib
from mtl_keras import errors
from mtl_keras import protocols
from mtl_keras.training import preparation
from mtl_keras.training import train

from helpers import TrainFlags
from helpers import REPO
from helpers import refusal
from helpers import run_main

TINY = ["--dataset=cifar10_ovr", "--synthetic", "--synthetic_examples=320", "--validation_size=80",
        "--trunk=simple_cnn", "--epochs=1", "--batch_size=16", "--optimizer=adamw",
        "--learning_rate=0.002", "--noaugment", "--checkpoint_minutes=0"]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _metrics(workdir):
    return json.loads((workdir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run per protocol: {name: workdir}. The two that no test evaluates on their
    validation split have none: no validation figures to draw for ten heads."""
    folder = tmp_path_factory.mktemp("protocols")
    protocols = {"joint": ["--protocol=joint", "--validation_size=0"],
                 "single_task": ["--protocol=single_task", "--task=cat", "--validation_size=0"],
                 "task_sampling": ["--protocol=task_sampling", "--sampling=proportional"],
                 "standard": ["--protocol=standard"]}
    workdirs = {}
    for name, flags in protocols.items():
        TrainFlags().unparse_flags()
        status = run_main(TrainFlags(), *TINY, *flags, f"--workdir={folder / name}")
        assert status == 0, name
        workdirs[name] = folder / name
    TrainFlags().unparse_flags()
    return workdirs


def test_joint_and_task_sampling_score_every_task_on_its_own_images(runs):
    for name in ("joint", "task_sampling"):
        heads = _metrics(runs[name])["heads"]
        assert list(heads) == CLASSES
        # 80 synthetic test images dealt to 10 tasks: each scored on its own only.
        assert sum(head["examples"] for head in heads.values()) == 80


def test_single_task_trains_one_head_on_its_own_images(runs):
    assert list(_metrics(runs["single_task"])["heads"]) == ["cat"]
    log = (runs["single_task"] / "history.csv").read_text().splitlines()[0]
    assert "cat_loss" in log and "dog_loss" not in log
    config = config_lib.Config(dataset="cifar10_ovr", synthetic=True, synthetic_examples=320,
                               validation_size=80, protocol="single_task", task="cat")
    family = data_lib.load(config)
    own = protocols.get("single_task").training_data(family, config)
    for name in ("train", "validation", "test"):
        mine = getattr(family, name).masks["cat"] == 1
        assert len(getattr(own, name)) == mine.sum() > 0
        assert (getattr(own, name).images == getattr(family, name).images[mine]).all()
        assert (getattr(own, name).labels["cat"] == getattr(family, name).labels["cat"][mine]).all()
        assert getattr(own, name).masks is None


def test_standard_trains_one_classifier_and_scores_it_per_task(runs):
    metrics = _metrics(runs["standard"])
    assert list(metrics["heads"]) == ["all_classes"]
    assert list(metrics["tasks"]) == CLASSES
    assert sum(task["examples"] for task in metrics["tasks"].values()) == 80


@pytest.mark.parametrize("name", ["standard", "task_sampling"])
def test_evaluate_a_saved_run_gives_its_metrics(runs, name, capsys):
    workdir = runs[name]
    assert cli.run_command("evaluate", ["prog", f"--workdir={workdir}"]) == 0
    written = json.loads((workdir / "evaluation-test.json").read_text())
    metrics = _metrics(workdir)
    assert written["heads"] == metrics["heads"] and written.get("tasks") == metrics.get("tasks")
    assert cli.run_command("evaluate", ["prog", f"--workdir={workdir}", "--split=validation"]) == 0
    validation = json.loads((workdir / "evaluation-validation.json").read_text())
    assert validation["split"] == "validation"
    assert sum(head.get("examples", 0) for head in (validation.get("tasks") or validation["heads"])
               .values()) == 80
    capsys.readouterr()


def test_evaluate_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.run_command("evaluate", ["prog", f"--workdir={tmp_path}"]) == 2
    assert "flags.txt" in capsys.readouterr().err


def test_every_protocol_flagfile_parses(run_flags, monkeypatch):
    monkeypatch.chdir(REPO)  # nested --flagfile paths are relative to the repository
    flagfiles = sorted((REPO / "experiments" / "protocols").glob("*/*.flags"))
    assert len(flagfiles) == 4 * 7
    for path in flagfiles:
        if path.name == "base.flags":
            continue
        run_flags.unparse_flags()
        run_flags(["prog", f"--flagfile={path.relative_to(REPO)}"])
        config = run_flags.config()
        sampled = path.stem.startswith("task_sampling_")
        assert config.protocol == ("task_sampling" if sampled else path.stem)
        assert config.sampling == (path.stem.rpartition("_")[2] if sampled else "uniform")
        assert config.dataset == path.parent.name


@pytest.mark.parametrize("flags, message", [
    (["--protocol=single_task"], "needs --task=NAME; its heads are airplane"),
    (["--protocol=single_task", "--task=cow"], "--task=cow is not a head of cifar10_ovr"),
    (["--protocol=relay"], "Unknown protocol 'relay'"),
    (["--protocol=task_sampling", "--batch_size=200"], "fewer training examples than"),
])
def test_bad_protocol_input_is_refused_before_anything_is_written(run_flags, capsys, tmp_path,
                                                                  flags, message):
    assert message in refusal(run_flags, capsys, tmp_path / "run", *TINY, *flags)


@pytest.mark.parametrize("weighting", ["dwa", "gls", "famo"])
def test_task_sampling_trains_with_the_methods_that_read_every_tasks_loss(tmp_path, weighting):
    """One task per step: the others' losses are 0, which these methods leave out. Trained
    by `train.fit` (what the logs are about), without a validation split or a test."""
    config = config_lib.Config(dataset="cifar10_ovr", synthetic=True, synthetic_examples=320,
                               validation_size=0, trunk="simple_cnn", epochs=3, batch_size=16,
                               optimizer="adamw", learning_rate=0.002, augment=False,
                               checkpoint_minutes=0.0, protocol="task_sampling",
                               weighting=weighting)
    experiment = preparation.prepare(config, str(tmp_path / "run"))
    model, _ = train.build_and_compile(experiment)
    rows = train.fit(model, experiment, train.make_datasets(experiment))
    assert len(rows) == 3
    losses = [row["loss"] for row in rows]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    weights = np.array([[row[f"{name}_weight"] for name in CLASSES] for row in rows])
    drawn = np.array([[row[f"{name}_loss"] > 0 for name in CLASSES] for row in rows])
    assert np.isfinite(weights).all() and drawn.sum() >= 10
    # Logged over the steps that drew the task (a task no step drew logs 0): gls and famo
    # weigh a step's one task 1, dwa weighs every task 1 in its first two epochs.
    checked = drawn if weighting in ("gls", "famo") else drawn & (np.arange(3) < 2)[:, None]
    np.testing.assert_allclose(weights[checked], 1.0, rtol=1e-3)
    np.testing.assert_array_equal(weights[~drawn], 0.0)


def test_standard_needs_a_task_family(run_flags, capsys, tmp_path):
    line = refusal(run_flags, capsys, tmp_path / "run", "--dataset=cifar100", "--synthetic",
                   "--protocol=standard")
    assert "needs a task family" in line


def test_another_protocols_setting_and_bad_temperature_are_refused():
    with pytest.raises(errors.UserError, match="--task=cat is a setting of --protocol=single_task; "
                                               "this run's protocol is joint"):
        preparation.check_parts(config_lib.Config(task="cat"))
    with pytest.raises(errors.UserError, match="--sampling=proportional is a setting of "
                                               "--protocol=task_sampling"):
        preparation.check_parts(config_lib.Config(protocol="standard", sampling="proportional"))
    with pytest.raises(errors.UserError, match="sampling_temperature"):
        config_lib.Config(sampling_temperature=0.0)
