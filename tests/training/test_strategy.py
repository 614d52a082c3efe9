"""Strategy and XLA choices."""

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


def test_a_device_that_does_not_exist_is_named_instead_of_waited_for():
    with pytest.raises(ValueError, match=r"No device /cpu:7, /gpu:0 here: this process has "
                                         r"/device:CPU:0, /device:CPU:1"):
        strategy_lib.mirrored_strategy(["/cpu:0", "/cpu:7", "/gpu:0"])


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
