"""A run's saved state restores into the model that its command builds again: each
variable of the optimizer to the variable it belongs to, whatever the architecture (on one
device, where Keras would build the optimizer inside the first step, in the order of the
step's update rather than the model's)."""

import numpy as np
import pytest

from mtl_keras import config as config_lib
from mtl_keras.training import preparation
from mtl_keras.training import run_state
from mtl_keras.training import train


def _momentum(model, variable):
    return model.optimizer.momentums[model.optimizer._get_variable_index(variable)].numpy()  # noqa: SLF001


# A gradient-level method updates the shared variables, then the private ones: with mmoe
# (experts and gates shared, towers private) another order than the model lists them in.
@pytest.mark.parametrize("architecture, weighting", [("hps", "equal"), ("mmoe", "mgda")])
def test_the_optimizer_state_restores_to_its_own_variables(tmp_path, architecture, weighting):
    config = config_lib.Config(dataset="cifar100", synthetic=True, synthetic_examples=64,
                               validation_size=0, trunk="simple_cnn", epochs=1, batch_size=16,
                               optimizer="sgd", learning_rate=0.05, momentum=0.9,
                               architecture=architecture, weighting=weighting, augment=False, checkpoint_minutes=0)
    experiment = preparation.prepare(config, str(tmp_path / "run"))
    model, _ = train.build_and_compile(experiment)
    training = train.make_datasets(experiment)[0]
    model.fit(training.repeat(), steps_per_epoch=2, epochs=1, verbose=0)
    run_state.save(experiment.run_dir, model, run_state.Progress(epoch=1, steps_per_epoch=2))
    _, index = run_state.load(experiment.run_dir)
    again, _ = train.build_and_compile(experiment)
    run_state.restore_model(experiment.run_dir, again, index, training.element_spec)
    assert len(model.trainable_variables) == len(again.trainable_variables)
    for trained, restored in zip(model.trainable_variables, again.trainable_variables):
        np.testing.assert_array_equal(restored.numpy(), trained.numpy())
        np.testing.assert_array_equal(_momentum(again, restored), _momentum(model, trained))
    assert np.abs(_momentum(model, model.trainable_variables[0])).sum() > 0  # it did move
