"""Mixed precision: the policies, and "auto" measured once per CPU and cached."""

import builtins
import json

import keras
import numpy as np
import pytest

from mtl_keras.training import precision


def test_set_precision_on_cpu():
    assert precision.set_precision("true") == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert precision.set_precision("false") == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("fast, expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_follows_the_cpu(monkeypatch, fast, expected):
    monkeypatch.setattr(precision, "cpu_has_fast_bfloat16", lambda: fast)
    assert precision.set_precision("auto") == expected


def _fake_cpuinfo(monkeypatch, tmp_path, model, flags):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor : 0\nmodel name : {model}\nflags : {flags}\n")
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda path, *args, **kwargs:
                        real_open(cpuinfo if path == "/proc/cpuinfo" else path, *args, **kwargs))


@pytest.mark.parametrize("flags, native", [("fpu avx2 avx512f", False),
                                           ("fpu avx512f avx512_bf16", True),
                                           ("fpu amx_bf16 amx_tile", True)])
def test_cpu_description_reads_model_and_flags(monkeypatch, tmp_path, flags, native):
    _fake_cpuinfo(monkeypatch, tmp_path, "Some CPU @ 2.0GHz", flags)
    assert precision.cpu_description() == {"model": "Some CPU @ 2.0GHz", "native_bfloat16": native}


@pytest.fixture
def measured(monkeypatch, tmp_path):
    """A private cache folder, and a measurement that records its calls and returns `ratio[0]`."""
    monkeypatch.setenv(precision.CACHE_VARIABLE, str(tmp_path / "cache"))
    calls, ratio = [], [1.0]

    def measure():
        calls.append(1)
        return ratio[0]

    monkeypatch.setattr(precision, "measure_bfloat16_time_ratio", measure)
    return calls, ratio


@pytest.mark.parametrize("ratio, fast", [(0.6, True), (0.89, True), (0.95, False), (1.6, False)])
def test_auto_measures_once_per_cpu_and_keeps_the_answer(monkeypatch, tmp_path, measured, ratio,
                                                         fast):
    calls, measured_ratio = measured
    measured_ratio[0] = ratio
    _fake_cpuinfo(monkeypatch, tmp_path, "CPU A", "avx512_bf16")
    assert precision.cpu_has_fast_bfloat16() is fast
    assert precision.cpu_has_fast_bfloat16() is fast
    assert len(calls) == 1  # the second answer came from the cache
    cache = json.loads((tmp_path / "cache" / "precision.json").read_text())
    [(key, entry)] = cache.items()
    assert key.startswith("CPU A | TensorFlow ")
    assert entry["bfloat16_time_ratio"] == ratio


def test_another_cpu_model_is_measured_again(monkeypatch, tmp_path, measured):
    calls, _ = measured
    for model in ("CPU A", "CPU B", "CPU A"):
        _fake_cpuinfo(monkeypatch, tmp_path, model, "avx512_bf16")
        precision.cpu_has_fast_bfloat16()
    assert len(calls) == 2


def test_without_native_bfloat16_nothing_is_measured(monkeypatch, tmp_path, measured):
    calls, _ = measured
    _fake_cpuinfo(monkeypatch, tmp_path, "CPU C", "avx2")
    assert precision.cpu_has_fast_bfloat16() is False
    assert not calls


def test_a_damaged_or_unwritable_cache_means_measuring(monkeypatch, tmp_path, measured):
    calls, _ = measured
    _fake_cpuinfo(monkeypatch, tmp_path, "CPU A", "avx512_bf16")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "precision.json").write_text("{not json")
    assert precision.cpu_has_fast_bfloat16() is False
    (cache / "precision.json").write_text("[1, 2]")
    assert precision.cpu_has_fast_bfloat16() is False
    monkeypatch.setenv(precision.CACHE_VARIABLE, "/proc/no-such-folder")
    assert precision.cpu_has_fast_bfloat16() is False
    assert len(calls) == 3


def _first_layer():
    """A Dense layer's name and initial kernel."""
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    return layer.name, layer.kernel.numpy()


def test_the_measurement_is_a_real_time_ratio_and_leaves_keras_as_it_was():
    """A run measured on its first start builds the model it builds after: same policy,
    same layer names, same random initial weights."""
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    name, kernel = _first_layer()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    ratio = precision.measure_bfloat16_time_ratio(rounds=1, steps=2)
    assert 0.05 < ratio < 20
    assert keras.mixed_precision.global_policy().name == "float32"
    name_after, kernel_after = _first_layer()
    assert name_after == name
    np.testing.assert_array_equal(kernel_after, kernel)
