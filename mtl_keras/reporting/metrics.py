"""Test metrics computed from predicted probabilities, per head and across the hierarchy."""

import numpy as np


def top_k_accuracy(probabilities, labels, k):
    """Share of examples whose label is among the k most probable classes."""
    top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def head_metrics(task, probabilities, labels):
    """Returns {metric name: value} for one head, for the metrics the task asks for."""
    results = {"accuracy": float(np.mean(np.argmax(probabilities, axis=1) == labels))}
    for name in task.metrics:
        if name.startswith("top") and name.endswith("_accuracy"):
            results[name] = top_k_accuracy(probabilities, labels, int(name[3:-len("_accuracy")]))
    return results


def hierarchy_metrics(hierarchy, predictions, labels):
    """Returns how well the heads' predictions agree with each other and the hierarchy.

    Args:
      hierarchy: a `hierarchy.Hierarchy` whose levels are heads of the model.
      predictions: {level: predicted class ids}.
      labels: {level: true class ids}.

    Returns:
      {"hierarchy_consistency": share of examples whose prediction at every level is the
       parent of the prediction one level finer,
       "<coarser>_from_<finer>_accuracy": accuracy of the parent of the finer prediction,
       for each pair of adjacent levels}.
    """
    consistent = np.ones(len(next(iter(predictions.values()))), dtype=bool)
    results = {}
    for finer, coarser in zip(hierarchy.levels, hierarchy.levels[1:]):
        implied = hierarchy.parents[finer][predictions[finer]]
        consistent &= implied == predictions[coarser]
        results[f"{coarser}_from_{finer}_accuracy"] = float(np.mean(implied == labels[coarser]))
    return {"hierarchy_consistency": float(np.mean(consistent)), **results}


def evaluate(tasks, hierarchy, probabilities, labels):
    """Returns the metrics.json body for the test split (without run facts).

    Args:
      tasks: the heads.
      hierarchy: a `Hierarchy` over the heads, or None.
      probabilities: {head: N×classes predicted probabilities}.
      labels: {head: N true class ids}.
    """
    results = {"heads": {task.name: head_metrics(task, probabilities[task.name], labels[task.name])
                         for task in tasks}}
    if hierarchy is not None:
        predictions = {name: np.argmax(p, axis=1) for name, p in probabilities.items()}
        results.update(hierarchy_metrics(hierarchy, predictions, labels))
    return results
