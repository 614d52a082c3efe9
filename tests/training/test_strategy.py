"""Strategy, XLA and precision choices."""

import keras
import pytest
import tensorflow as tf

from mtl_keras import errors
from mtl_keras.training import strategy as strategy_lib


def test_conftest_split_the_cpu_into_two_logical_devices():
    assert len(tf.config.list_logical_devices("CPU")) == 2


@pytest.fixture(scope="module")
def two_replicas():
    return strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:1"])


def test_check_batch_size_over_two_replicas(two_replicas):
    assert two_replicas.num_replicas_in_sync == 2
    strategy_lib.check_batch_size(64, two_replicas)
    with pytest.raises(errors.UserError) as error:
        strategy_lib.check_batch_size(63, two_replicas)
    assert str(error.value) == ("--batch_size=63 (global) does not divide over 2 replicas; "
                                "use a multiple of 2.")


def test_check_batch_size_one_replica_takes_any_batch():
    for batch_size in (1, 7, 63):
        strategy_lib.check_batch_size(batch_size, tf.distribute.get_strategy())


def test_make_strategy_on_a_cpu_machine():
    assert strategy_lib.make_strategy("default") is tf.distribute.get_strategy()
    assert strategy_lib.make_strategy("auto").num_replicas_in_sync == 1  # no GPUs: not mirrored
    mirrored = strategy_lib.make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)


def test_resolve_jit_compile_without_gpu():
    assert strategy_lib.resolve_jit_compile("auto") is False
    assert strategy_lib.resolve_jit_compile("true") is True
    assert strategy_lib.resolve_jit_compile("false") is False


def test_set_precision_on_cpu():
    assert strategy_lib.set_precision("true") == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert strategy_lib.set_precision("false") == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("fast, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_follows_the_cpu(monkeypatch, fast, expected):
    monkeypatch.setattr(strategy_lib, "cpu_has_fast_bfloat16", lambda: fast)
    assert strategy_lib.set_precision("auto") == expected


def test_cpu_bfloat16_detection_reads_cpuinfo_flags(monkeypatch, tmp_path):
    import builtins

    real_open = builtins.open
    for flags, expected in (("fpu avx2 avx512f", False), ("fpu avx512f avx512_bf16", True),
                            ("fpu amx_bf16 amx_tile", True)):
        cpuinfo = tmp_path / "cpuinfo"
        cpuinfo.write_text(f"processor : 0\nflags : {flags}\n")
        monkeypatch.setattr(builtins, "open", lambda path, *args, _f=cpuinfo, **kwargs:
                            real_open(_f if path == "/proc/cpuinfo" else path, *args, **kwargs))
        assert strategy_lib.cpu_has_fast_bfloat16() is expected
