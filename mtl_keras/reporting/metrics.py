"""Test metrics computed from the model's predictions, per head and across the hierarchy."""

import numpy as np

from mtl_keras.heads import base as heads_base
from mtl_keras.heads import multiclass


# The kinds' own figures, for callers that compute one directly.
top_k_accuracy = multiclass.top_k_accuracy
binary_auc = heads_base.binary_auc


def head_metrics(task, predictions, labels):
    """Returns {metric name: value} for one head, on the examples given: the figures its
    kind reports (the same definitions as the training logs', `mtl_keras.heads`).

    Args:
      task: the head.
      predictions: the model's outputs for the head (probabilities, or values in the
        targets' units for regression).
      labels: the true labels, shaped as in `source.Split`.
    """
    kind = task.head_kind
    return {name: kind.metric(name).compute(task, predictions, labels)
            for name in kind.report_metrics(task)}


def hierarchy_metrics(hierarchy, predictions, labels):
    """Returns how well the heads' predictions agree with each other and the hierarchy.

    Args:
      hierarchy: a `hierarchy.Hierarchy` whose levels are heads of the model.
      predictions: {level: predicted class ids}.
      labels: {level: true class ids}.

    Returns:
      {"hierarchy_consistency": share of examples whose predictions agree at every pair
         of adjacent levels (the coarser is the parent of the finer),
       "<finer>_<coarser>_consistency": the same for one adjacent pair (given when there
         are more than two levels),
       "<coarser>_from_<finer>_accuracy": accuracy of the coarser class implied by the
         finer prediction, for every pair of levels}.
    """
    levels = hierarchy.levels
    consistent = np.ones(len(predictions[levels[0]]), dtype=bool)
    pairs, derived = {}, {}
    for position, finer in enumerate(levels[:-1]):
        implied = predictions[finer]
        for step, coarser in enumerate(levels[position + 1:]):
            implied = hierarchy.parents[levels[position + step]][implied]
            derived[f"{coarser}_from_{finer}_accuracy"] = float(np.mean(implied == labels[coarser]))
            if step == 0:
                agree = implied == predictions[coarser]
                consistent &= agree
                pairs[f"{finer}_{coarser}_consistency"] = float(np.mean(agree))
    results = {"hierarchy_consistency": float(np.mean(consistent))}
    if len(levels) > 2:
        results.update(pairs)
    return {**results, **derived}


def evaluate(tasks, hierarchy, predictions, labels, masks=None):
    """Returns the metrics.json body for the test split (without run facts).

    Args:
      tasks: the heads.
      hierarchy: a `Hierarchy` over the heads, or None.
      predictions: {head: the model's outputs}.
      labels: {head: true labels}.
      masks: None, or {head: 1 where the label is known, 0 where it is missing};
        each head is scored on its known labels only ("examples" says how many).
    """
    heads = {}
    for task in tasks:
        known = slice(None) if masks is None else masks[task.name] > 0
        heads[task.name] = head_metrics(task, predictions[task.name][known], labels[task.name][known])
        if masks is not None:
            heads[task.name]["examples"] = int(np.count_nonzero(known))
    results = {"heads": heads}
    if hierarchy is not None:
        predicted = {name: np.argmax(p, axis=1) for name, p in predictions.items()}
        results.update(hierarchy_metrics(hierarchy, predicted, labels))
    return results
