"""The protocol registry and the joint protocol, whose behaviour the others start from."""

from mtl_keras import registry

PROTOCOLS = registry.Registry("protocol", flag="--protocol")


class Protocol:
    """Every head on every step: the data as loaded, the default pipeline.

    Attributes:
      flags: the training flags that are this protocol's own settings (a run of another
        protocol refuses them; a comparison sets them apart from the other flags).
      baseline: whether its runs are the single-task baselines that other settings are
        compared with (a study trains one per head when no --task is given).
    """

    flags = ()
    baseline = False

    def label(self, config):
        """The protocol's name in comparisons, from a run's config (a dict)."""
        return config.get("protocol", "joint")

    def training_data(self, data, config):
        """The `DataSource` the model trains and is tested on, made from the loaded one.

        Called before the settings left to the dataset's size are chosen (they follow
        this data). Raises UserError for input the protocol cannot use.
        """
        del config
        return data

    def check(self, data, config):
        """Raises UserError when the resolved `config` cannot train on `data`."""
        del data, config

    def training_dataset(self, data, config, steps_per_epoch):
        """The training pipeline, or None for the default one (`pipeline.make_dataset`)."""
        del data, config, steps_per_epoch

    def task_metrics(self, data, predictions, split):
        """Extra metrics.json entries from the model's predictions on `split`."""
        del data, predictions, split
        return {}


PROTOCOLS.register("joint")(Protocol())
