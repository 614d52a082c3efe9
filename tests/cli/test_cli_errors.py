"""The entry point turns bad input into one `error:` line and exit status 2, writing nothing."""

import os
import subprocess
import sys

import pytest

from mtl_keras import cli
from mtl_keras.data.datasets import tfds_source

from helpers import REPO, error_lines


def _main_exit_code(run_flags):
    with pytest.raises(SystemExit) as exit_info:
        run_flags.main()
    return exit_info.value.code


def test_offline_without_data_names_both_ways_forward(run_flags, tmp_path, monkeypatch, capsys):
    probed = []

    def offline(url):
        probed.append(url)
        raise OSError("Name or service not known")

    monkeypatch.setattr(tfds_source, "check_reachable", offline)
    workdir = tmp_path / "w"
    run_flags(["prog", "--dataset=cifar100", f"--data_dir={tmp_path}", f"--workdir={workdir}"])
    assert _main_exit_code(run_flags) == 2
    assert probed == ["https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"]
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    message = lines[0]
    assert message.startswith("error: cifar100 is not prepared in ")
    assert "(OSError: Name or service not known)" in message
    assert "Two ways forward" in message
    assert "--data_dir=" in message and "--archive=" in message
    assert message.index("--data_dir=") < message.index("--archive=")
    assert not workdir.exists()


def test_unexpected_positional_argument(run_flags, tmp_path, capsys):
    assert cli.run_command("train", ["prog", f"--workdir={tmp_path / 'w'}", "train"]) == 2
    assert capsys.readouterr().err.startswith("error: unexpected arguments train;")
    assert not (tmp_path / "w").exists()


def test_unknown_loss_weight_head_in_process(run_flags, tmp_path, capsys):
    run_flags(["prog", "--synthetic", "--synthetic_examples=64", "--validation_size=16",
               "--loss_weights=fine=1,superclass=2", f"--workdir={tmp_path / 'w'}"])
    assert _main_exit_code(run_flags) == 2
    assert capsys.readouterr().err == (
        "error: --loss_weights names superclass, but the heads are fine, coarse.\n")
    assert not (tmp_path / "w").exists()


def test_batch_larger_than_the_training_split(run_flags, tmp_path, capsys):
    run_flags(["prog", "--synthetic", "--synthetic_examples=64", "--validation_size=16",
               "--batch_size=64", f"--workdir={tmp_path / 'w'}"])
    assert _main_exit_code(run_flags) == 2
    assert "is larger than the 48 training examples" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_test_shift_as_large_as_the_image(run_flags, tmp_path, capsys):
    run_flags(["prog", "--synthetic", "--synthetic_examples=64", "--validation_size=16",
               "--batch_size=16", "--test_shift=16", f"--workdir={tmp_path / 'w'}"])
    assert _main_exit_code(run_flags) == 2
    assert capsys.readouterr().err == (
        "error: --test_shift=16 moves the 32x32 images out of sight; use a shift below half "
        "their size.\n")
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_out_of_range_seed_is_a_user_error(run_flags, tmp_path, capsys, seed):
    workdir = tmp_path / "w"
    run_flags(["prog", "--synthetic", "--synthetic_examples=64", "--validation_size=16",
               "--batch_size=16", "--epochs=1", "--warmup_epochs=0", "--trunk=lenet",
               f"--seed={seed}", f"--workdir={workdir}"])
    assert _main_exit_code(run_flags) == 2
    assert capsys.readouterr().err.startswith("error: --seed")
    assert not workdir.exists()


def test_unknown_trunk_is_refused_before_anything_is_written(run_flags, tmp_path, capsys):
    workdir = tmp_path / "w"
    run_flags(["prog", "--synthetic", "--synthetic_examples=64", "--validation_size=16",
               "--batch_size=16", "--trunk=resnet50", f"--workdir={workdir}"])
    assert _main_exit_code(run_flags) == 2
    assert capsys.readouterr().err.startswith("error: Unknown trunk 'resnet50'; choose one of:")
    assert not workdir.exists()


SUBPROCESS_CASES = {
    "missing-archive": (["--archive=missing/cifar-100-python.tar.gz"],
                        "error: --archive=missing/cifar-100-python.tar.gz does not exist; check "
                        "the path."),
    "unknown-head": (["--synthetic", "--synthetic_examples=64", "--validation_size=16",
                      "--loss_weights=animal=1"],
                     "error: --loss_weights names animal, but the heads are fine, coarse."),
}


@pytest.fixture(scope="module")
def subprocess_results(tmp_path_factory):
    """`python -m mtl_keras.run` on each case, the processes started at once, each in an
    empty folder of its own: {case: (folder, exit status, stdout, stderr)}."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    started = {}
    for case, (flags, _) in SUBPROCESS_CASES.items():
        folder = tmp_path_factory.mktemp(case)
        started[case] = folder, subprocess.Popen(
            [sys.executable, "-m", "mtl_keras.run", *flags, f"--workdir={folder / 'w'}"],
            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for case, (folder, process) in started.items():
        try:
            out, err = process.communicate(timeout=240)
        finally:
            process.kill()
        results[case] = folder, process.returncode, out, err
    return results


@pytest.mark.parametrize("case", sorted(SUBPROCESS_CASES))
def test_subprocess_bad_input_exits_2_with_one_error_line(subprocess_results, case):
    folder, status, out, err = subprocess_results[case]
    assert status == 2, err
    assert "Traceback" not in err + out
    assert error_lines(err) == [SUBPROCESS_CASES[case][1]]
    assert not (folder / "w").exists()
    assert os.listdir(folder) == []  # nothing written next to it either (no runs/ folder)


def test_multi_worker_needs_a_shared_workdir_and_tf_config(run_flags, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, '
                                    '"task": {"type": "worker", "index": 0}}')
    run_flags(["prog", "--strategy=multi_worker", "--synthetic"])
    assert _main_exit_code(run_flags) == 2
    assert capsys.readouterr().err.strip() == ("error: --strategy=multi_worker needs --workdir: "
                                               "give every worker the same folder on storage "
                                               "they share.")
    monkeypatch.delenv("TF_CONFIG")
    run_flags(["prog", "--strategy=multi_worker", "--synthetic", f"--workdir={tmp_path / 'w'}"])
    assert _main_exit_code(run_flags) == 2
    assert "needs the TF_CONFIG variable" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []  # nothing written
