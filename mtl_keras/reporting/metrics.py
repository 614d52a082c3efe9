"""Test metrics computed from the model's predictions, per head and across the hierarchy."""

import numpy as np


def top_k_accuracy(probabilities, labels, k):
    """Share of examples whose label is among the k most probable classes."""
    top = np.argpartition(-probabilities, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def binary_auc(scores, labels):
    """Area under the ROC curve: the Mann-Whitney statistic, tied scores counted half."""
    labels = labels.astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # mean 1-based rank of each tie
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def head_metrics(task, predictions, labels):
    """Returns {metric name: value} for one head, on the examples given.

    Args:
      task: the head.
      predictions: the model's outputs for the head (probabilities, or values in the
        targets' units for regression).
      labels: the true labels, shaped as in `source.Split`.
    """
    if task.kind == "regression":
        errors = predictions.reshape(len(labels), -1) - labels.reshape(len(labels), -1)
        return {"mae": float(np.mean(np.abs(errors))),
                "rmse": float(np.sqrt(np.mean(np.square(errors))))}
    if task.kind in ("binary", "multilabel"):
        truth = labels.reshape(len(labels), -1) > 0.5
        scores = predictions.reshape(len(labels), -1)
        results = {"accuracy": float(np.mean((scores > 0.5) == truth))}
        aucs = [binary_auc(scores[:, column], truth[:, column]) for column in range(truth.shape[1])]
        results["auc"] = float(np.nanmean(aucs)) if not np.all(np.isnan(aucs)) else float("nan")
        if task.kind == "multilabel":
            results["exact_match"] = float(np.mean(np.all((scores > 0.5) == truth, axis=1)))
        return results
    results = {"accuracy": float(np.mean(np.argmax(predictions, axis=1) == labels))}
    for name in task.metric_names:
        if name.startswith("top") and name.endswith("_accuracy"):
            results[name] = top_k_accuracy(predictions, labels, int(name[3:-len("_accuracy")]))
    return results


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
