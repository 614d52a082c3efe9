"""Which of a multi-task model's variables the tasks share, and which are one task's own.

By the Functional graph: a variable is a task's own when only that task's output depends
on it, shared when several do; an architecture may declare layers one task's own although
other tasks read them (`MultiTaskModel.set_task_layers`). With a shared representation
(the tensors every head reads), the model also splits into the encoder before it and the
decoder after it, which `rep_grad` differentiates between.
"""

import keras


class Parts:
    """The model's variables by role, and its encoder and decoder (see `split`)."""

    def __init__(self, model_variables, shared, private, encoder, decoder, encoder_variables):
        self.model_variables = model_variables
        self.shared_variables = shared
        self.private_variables = private
        self.encoder, self.decoder = encoder, decoder
        self.encoder_variables = encoder_variables


def split(model, model_variables, owners, representation, rep_grad):
    """The `Parts` of `model`.

    Args:
      model: the Functional model (its inputs and dict of outputs).
      model_variables: its trainable variables, the method's left out.
      owners: {id(variable): set of task names} (`MultiTaskModel.variable_owners`).
      representation: the shared representation's tensors, or empty.
      rep_grad: whether the task gradients are taken at the representation: then every
        variable after it is a head's (it gets the gradient of the summed losses).
    """
    shared = [v for v in model_variables if len(owners.get(id(v), ())) > 1]
    private = [v for v in model_variables if len(owners.get(id(v), ())) <= 1]
    encoder = decoder = None
    encoder_variables = []
    if representation:
        encoder = keras.Model(model.inputs, list(representation))
        decoder = keras.Model(list(representation), model.output_dict())
        encoder_ids = {id(v) for v in encoder.trainable_variables}
        encoder_variables = [v for v in model_variables if id(v) in encoder_ids]
        if rep_grad:
            private = [v for v in model_variables if id(v) not in encoder_ids]
    return Parts(model_variables, shared, private, encoder, decoder, encoder_variables)


def graph_owners(model):
    """{id(variable): set of task names whose output depends on it}, from the graph."""
    owners = {}
    for name, output in model.output_dict().items():
        for operation in _upstream_operations(output):
            for variable in operation.trainable_variables:
                owners.setdefault(id(variable), set()).add(name)
    return owners


def _upstream_operations(tensor):
    """The operations (layers) of the Functional graph that `tensor` depends on."""
    seen, stack = {}, [tensor]
    while stack:
        operation, node_index, _ = stack.pop()._keras_history
        if id(operation) in seen:
            continue
        seen[id(operation)] = operation
        stack.extend(operation._inbound_nodes[node_index].input_tensors)  # noqa: SLF001
    return list(seen.values())
