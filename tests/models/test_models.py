"""Every registered trunk builds a model with one named softmax head per task."""

import keras
import numpy as np
import pytest

from mtl_keras import errors
from mtl_keras.models import build  # noqa: F401  (registers the ResNet trunks)
from mtl_keras.models import trunks
from mtl_keras.tasks import Task

TWO_HEADS = (Task("fine", 100), Task("coarse", 20))
MEAN, STD = [0.5, 0.48, 0.45], [0.25, 0.24, 0.26]


def _images(count=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3), dtype=np.uint8)


def test_all_trunks_are_registered():
    assert trunks.TRUNKS.names() == ["lenet", "resnet18", "resnet20", "resnet56", "resnet9",
                                     "simple_cnn"]
    with pytest.raises(errors.UserError, match="Unknown trunk 'resnet50'; choose one of: lenet"):
        build.build_model(TWO_HEADS, "resnet50", (32, 32, 3), MEAN, STD)


@pytest.mark.parametrize("trunk", trunks.TRUNKS.names())
def test_two_heads_named_after_the_tasks(trunk):
    model = build.build_model(TWO_HEADS, trunk, (32, 32, 3), MEAN, STD)
    assert sorted(model.output_names) == ["coarse", "fine"]
    assert model.inputs[0].dtype == "uint8"
    for task in TWO_HEADS:
        head = model.get_layer(task.name)
        assert isinstance(head, keras.layers.Dense)
        assert head.units == task.num_classes
    # Called, not predicted: the same layers, without tracing a predict function per trunk.
    outputs = keras.tree.map_structure(np.asarray, model(_images(3)))
    assert isinstance(outputs, dict) and set(outputs) == {"fine", "coarse"}
    assert outputs["fine"].shape == (3, 100)
    assert outputs["coarse"].shape == (3, 20)
    for probabilities in outputs.values():
        assert probabilities.dtype == np.float32
        assert np.all(probabilities >= 0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # Each head is exactly the softmax Dense layer of that name applied to the shared features
    # (features and outputs from one call: a trunk in a traced graph may fuse its ops
    # otherwise than an eager one).
    probe = keras.Model(model.inputs[0], {"features": model.get_layer("fine").input,
                                          **{task.name: model.get_layer(task.name).output
                                             for task in TWO_HEADS}})
    probed = keras.tree.map_structure(np.asarray, probe(_images(3)))
    for task in TWO_HEADS:
        np.testing.assert_allclose(probed[task.name], outputs[task.name], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(model.get_layer(task.name)(probed["features"]),
                                   outputs[task.name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("trunk,low,high", [
    ("resnet20", 0.26e6, 0.28e6),
    ("resnet56", 0.84e6, 0.87e6),
    ("resnet18", 10.9e6, 11.4e6),
    ("resnet9", 0.40e6, 0.42e6),
])
def test_parameter_counts_with_one_ten_class_head(trunk, low, high):
    model = build.build_model((Task("label", 10),), trunk, (32, 32, 3), MEAN, STD)
    assert low <= model.count_params() <= high, model.count_params()


def test_resnet20_structure():
    """He et al.'s ResNet-20: 19 convolutions + 1 dense layer, option-A shortcuts only."""
    model = build.build_model((Task("label", 10),), "resnet20", (32, 32, 3), MEAN, STD)
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convolutions) == 19
    assert all(layer.kernel_size == (3, 3) for layer in convolutions)
    assert [layer.filters for layer in convolutions] == [16] * 7 + [32] * 6 + [64] * 6
    shortcuts = [layer for layer in model.layers if type(layer).__name__ == "ZeroPadShortcut"]
    assert [(layer.filters, layer.stride) for layer in shortcuts] == [(32, 2), (64, 2)]


@pytest.mark.parametrize("size,pooled", [(28, [14, 7, 4]), (32, [16, 8, 4])])
def test_resnet9_pools_keep_every_row_and_column(size, pooled):
    """On 28×28 images the last 2×2 pool sees a 7×7 map: it rounds up (4×4), dropping nothing."""
    model = build.build_model((Task("label", 10),), "resnet9", (size, size, 1), [0.3], [0.3])
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert [pool.output.shape[1:3] for pool in pools] == [(side, side) for side in pooled]


@pytest.mark.parametrize("trunk", ["resnet20", "simple_cnn"])
def test_saved_model_reloads_and_gives_the_same_outputs(tmp_path, trunk):
    model = build.build_model(TWO_HEADS, trunk, (32, 32, 3), MEAN, STD)
    images = _images(4, seed=1)
    before = model.predict(images, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    keras.backend.clear_session(free_memory=False)
    reloaded = keras.saving.load_model(path)
    after = reloaded.predict(images, verbose=0)
    assert set(after) == {"fine", "coarse"}
    for name in ("fine", "coarse"):
        np.testing.assert_allclose(after[name], before[name], rtol=1e-5, atol=1e-6)
    assert sorted(reloaded.output_names) == ["coarse", "fine"]
    # The normalization statistics travelled with the model: raw uint8 images in.
    assert reloaded.inputs[0].dtype == "uint8"


def test_zero_pad_shortcut_subsamples_and_pads_channels_with_zeros():
    from mtl_keras.models.resnet import ZeroPadShortcut

    inputs = np.random.default_rng(2).normal(size=(2, 7, 7, 16)).astype("float32")
    layer = ZeroPadShortcut(32, 2)
    outputs = keras.ops.convert_to_numpy(layer(inputs))
    assert outputs.shape == (2, 4, 4, 32) == layer.compute_output_shape((2, 7, 7, 16))
    assert layer.compute_output_shape((None, None, 8, 16)) == (None, None, 4, 32)
    # The 16 input channels sit in the middle (8 zero channels on each side).
    np.testing.assert_array_equal(outputs[..., 8:24], inputs[:, ::2, ::2, :])
    assert not outputs[..., :8].any() and not outputs[..., 24:].any()
    assert ZeroPadShortcut.from_config(layer.get_config()).get_config() == layer.get_config()
