"""`wrap`: a functional Keras model of the user's, as a `MultiTaskModel` that trains with any
method."""

import keras

from mtl_keras.step import model as model_lib


def wrap(model, representation=None):
    """A `MultiTaskModel` on the graph of a functional Keras model of yours (same layers,
    same weights), so that `compile(weighting=...)` and `fit` train it with any method.

    Args:
      model: a functional `keras.Model` whose outputs are a dict keyed by task name, or
        a list of outputs (each task then named after its output layer).
      representation: where gradient methods with `rep_grad=True` take the task
        gradients: a Keras tensor of the model's graph that every head reads, a layer
        name (its output), or a list of them. Optional.

    Returns:
      The `MultiTaskModel`.

    Raises:
      ValueError: not a functional model, outputs without distinct names, or an unknown
        representation layer.
    """
    if not isinstance(model, keras.Model) or not getattr(model, "_outputs_struct", None):
        raise ValueError("wrap() takes a functional Keras model (keras.Model(inputs, outputs)); "
                         "build yours with the functional API.")
    outputs = model._outputs_struct  # noqa: SLF001
    if not isinstance(outputs, dict):
        tensors = keras.tree.flatten(outputs)
        outputs = {tensor._keras_history[0].name: tensor for tensor in tensors}  # noqa: SLF001
        if len(outputs) != len(tensors):
            raise ValueError("wrap(): the model's outputs come from layers of the same name; give "
                             "each output layer a name, or return a dict of outputs.")
    inputs = model._inputs_struct  # noqa: SLF001
    wrapped = model_lib.MultiTaskModel(inputs, dict(outputs), name=model.name)
    if representation is not None:
        items = representation if isinstance(representation, (list, tuple)) else [representation]
        wrapped.set_representation([model.get_layer(item).output if isinstance(item, str)
                                    else item for item in items])
    return wrapped
