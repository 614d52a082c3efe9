"""The last dataset loaded, kept for the next run of the process that reads the same data.

A study's worker process trains run after run; runs of the same dataset settings would
decode the same images again. When keeping is on (`keep_last`), `load` notes every setting
of the run's `Config` that the dataset's loader reads, and a later load whose settings agree
on all of them gets the same `DataSource` back. Only the last dataset is kept, so that a
process holds at most one dataset's images besides the one it loads.

The settings are noted as the loader reads them, not listed by hand: a loader that starts
to read another setting (even while training, through a stream) makes it part of the key
at once.
"""

_keeping = False
_last = None  # (dataset name, {setting: value read}, the DataSource)


def keep_last(keeping=True):
    """Turns keeping the last dataset on or off (off forgets it)."""
    global _keeping, _last  # noqa: PLW0603  (one kept dataset per process)
    _keeping = keeping
    if not keeping:
        _last = None


class _ReadSettings:
    """A `Config` that notes the settings read through it, with their values."""

    def __init__(self, config):
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "read", {})

    def __getattr__(self, name):
        value = getattr(self._config, name)
        self.read.setdefault(name, value)
        return value


def load(name, config, loader):
    """`loader(config)`, or the kept `DataSource` of the last load of dataset `name` whose
    settings read equal `config`'s; keeps the result when keeping is on."""
    global _last  # noqa: PLW0603
    if not _keeping:
        return loader(config)
    if _last is not None:
        last_name, read, data = _last
        if last_name == name and all(getattr(config, setting, _MISSING) == value
                                     for setting, value in read.items()):
            return data
    _last = None  # forgotten before the next load: never two datasets kept at once
    settings = _ReadSettings(config)
    data = loader(settings)
    _last = (name, settings.read, data)
    return data


_MISSING = object()
