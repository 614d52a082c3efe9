"""A tiny name → object registry, one per axis (trunks, datasets, losses, metrics...)."""

from mtl_keras import errors


class Registry:
    """Maps names to objects; unknown names raise a UserError listing the known ones."""

    def __init__(self, kind):
        """Creates an empty registry; `kind` names the axis in error messages."""
        self.kind = kind
        self._entries = {}

    def register(self, name):
        """Returns a decorator that registers the decorated object under `name`."""

        def decorate(obj):
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice.")
            self._entries[name] = obj
            return obj

        return decorate

    def get(self, name):
        """Returns the object registered under `name`."""
        if name not in self._entries:
            raise errors.UserError(
                f"Unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}."
            )
        return self._entries[name]

    def names(self):
        """Returns the registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name):
        return name in self._entries
