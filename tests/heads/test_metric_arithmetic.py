"""The numbers of metrics.json, against expected values computed here by other means.

Each example is chosen so that the plausible wrong versions give another number: three
levels whose two pairs agree on different examples, top-k on probabilities where k and
k ± 1 differ, masks that hide examples a wrong version would score.
"""

import itertools

import numpy as np
import pytest

from mtl_keras.data.labels.hierarchy import Hierarchy
from mtl_keras.reporting import metrics
from mtl_keras.tasks import Task

# species (6) → genus (3) → family (2): species 0,1 → genus 0; 2,3 → 1; 4,5 → 2;
# genus 0,1 → family 0; genus 2 → family 1.
THREE = Hierarchy(levels=("species", "genus", "family"),
                  class_names={"species": tuple("abcdef"), "genus": ("g0", "g1", "g2"),
                               "family": ("h0", "h1")},
                  parents={"species": np.array([0, 0, 1, 1, 2, 2]), "genus": np.array([0, 0, 1])})

# Predictions of six images. The genus that each predicted species implies, and the
# family that each predicted genus implies, worked out by hand:
#   image                       0  1  2  3  4  5
#   species predicted           0  2  4  5  1  3
#   → its genus                 0  1  2  2  0  1
#   genus predicted             0  1  0  2  2  1     species-genus agree: 0 1 3 5  → 4/6
#   → its family                0  0  0  1  1  0
#   family predicted            0  1  0  1  0  1     genus-family agree:  0 2 3    → 3/6
#   both pairs agree:                                                  0 3      → 2/6
# A version scoring only the last pair gives 3/6, only the first 4/6, "any pair" 5/6,
# and one comparing species with family directly (skipping the genus prediction)
# 3/6 (species imply families 0 0 1 1 0 0: images 0 3 4).
PREDICTED = {"species": np.array([0, 2, 4, 5, 1, 3]), "genus": np.array([0, 1, 0, 2, 2, 1]),
             "family": np.array([0, 1, 0, 1, 0, 1])}
# True labels, consistent with the hierarchy: species 0 1 4 5 2 1 → genus 0 0 2 2 1 0 →
# family 0 0 1 1 0 0.
#   genus implied by the species predictions 0 1 2 2 0 1 vs 0 0 2 2 1 0: right on 0 2 3 → 3/6
#   family implied by the species predictions 0 0 1 1 0 0: right on all   → 6/6
#   family implied by the genus predictions 0 0 0 1 1 0: right on 0 1 3 5 → 4/6
LABELS = {"species": np.array([0, 1, 4, 5, 2, 1]), "genus": np.array([0, 0, 2, 2, 1, 0]),
          "family": np.array([0, 0, 1, 1, 0, 0])}


def test_three_levels_whose_pairs_disagree_on_different_images():
    result = metrics.hierarchy_metrics(THREE, PREDICTED, LABELS)
    assert result == pytest.approx({
        "hierarchy_consistency": 2 / 6,
        "species_genus_consistency": 4 / 6,
        "genus_family_consistency": 3 / 6,
        "genus_from_species_accuracy": 3 / 6,
        "family_from_species_accuracy": 6 / 6,
        "family_from_genus_accuracy": 4 / 6,
    })


def test_labels_of_the_example_follow_the_hierarchy():
    """The example's labels are a real labelling (each level the parent of the finer)."""
    np.testing.assert_array_equal(THREE.derive(LABELS["species"])["genus"], LABELS["genus"])
    np.testing.assert_array_equal(THREE.derive(LABELS["species"])["family"], LABELS["family"])


def test_four_levels_chain_through_every_level():
    """a (8) → b (4) → c (2) → d (2, a permutation): the coarsest class implied by the
    finest prediction goes through three parent maps, in order."""
    four = Hierarchy(levels=("a", "b", "c", "d"),
                     class_names={"a": tuple("01234567"), "b": tuple("0123"), "c": ("0", "1"),
                                  "d": ("0", "1")},
                     parents={"a": np.array([3, 3, 2, 2, 1, 1, 0, 0]),
                              "b": np.array([0, 1, 1, 0]), "c": np.array([1, 0])})
    finest = np.arange(8)
    predicted = {"a": finest, "b": np.array([3, 3, 2, 2, 1, 1, 0, 0]),
                 "c": np.array([0, 0, 1, 1, 1, 1, 0, 0]), "d": np.array([1, 1, 0, 0, 0, 0, 0, 0])}
    # By hand: a → b [3 3 2 2 1 1 0 0] → c [0 0 1 1 1 1 0 0] → d [1 1 0 0 0 0 1 1].
    labels = {"a": finest, "b": predicted["b"], "c": predicted["c"],
              "d": np.array([1, 1, 0, 0, 0, 0, 1, 1])}
    result = metrics.hierarchy_metrics(four, predicted, labels)
    # Every pair agrees but c-d on images 6 and 7, whose d predictions are 0, not 1.
    assert result["hierarchy_consistency"] == pytest.approx(6 / 8)
    assert result["c_d_consistency"] == pytest.approx(6 / 8)
    assert result["a_b_consistency"] == result["b_c_consistency"] == 1.0
    assert result["d_from_a_accuracy"] == 1.0  # three maps in the right order
    assert result["d_from_c_accuracy"] == 1.0
    assert len([key for key in result if key.endswith("_from_a_accuracy")]) == 3


def _top_k_by_counting(probabilities, labels, k):
    """Share of rows whose label's probability is beaten by fewer than k others."""
    beaten_by = (probabilities > probabilities[np.arange(len(labels)), labels][:, None]).sum(1)
    return float(np.mean(beaten_by < k))


def test_top_k_accuracy_against_counting():
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet(np.ones(12), size=400)
    labels = rng.integers(0, 12, 400)
    values = []
    for k in range(1, 13):
        expected = _top_k_by_counting(probabilities, labels, k)
        assert metrics.top_k_accuracy(probabilities, labels, k) == pytest.approx(expected)
        values.append(expected)
    assert len(set(values[:11])) == 11  # each k scores differently here: an off-by-one shows
    task = Task("fine", 12)  # more than 5 classes: top-5 by default
    assert metrics.head_metrics(task, probabilities, labels)["top5_accuracy"] == pytest.approx(
        values[4])


def test_binary_auc_against_counting_pairs():
    rng = np.random.default_rng(4)
    scores = np.round(rng.random(300), 1)  # many ties, which count half
    labels = rng.random(300) < 0.3 + 0.4 * scores
    positives, negatives = scores[labels], scores[~labels]
    pairs = list(itertools.product(positives, negatives))
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert metrics.binary_auc(scores, labels) == pytest.approx(expected)
    assert 0.6 < expected < 0.9


def test_masked_heads_are_scored_on_their_known_labels_only():
    """Three heads, each with other unknown labels. The placeholders under the mask are
    chosen to be what a wrong version would count: 0 ages, class 0, label 0."""
    age_true = np.array([[30.0], [0.0], [50.0], [0.0], [20.0]])
    age_predicted = np.array([[33.0], [70.0], [46.0], [60.0], [20.0]])
    race_true = np.array([2, 0, 0, 1, 0])
    race_predicted = np.eye(3)[[2, 0, 1, 1, 0]] * 0.8 + 0.2 / 3
    gender_true = np.array([[1.0], [0.0], [0.0], [1.0], [0.0]])
    gender_predicted = np.array([[0.9], [0.2], [0.7], [0.4], [0.1]])
    masks = {"age": np.array([1, 0, 1, 0, 1.0]), "race": np.array([1, 1, 1, 0, 0.0]),
             "gender": np.array([1, 1, 1, 1, 0.0])}
    tasks = (Task("age", kind="regression"), Task("race", 3), Task("gender", kind="binary"))
    result = metrics.evaluate(tasks, None,
                              {"age": age_predicted, "race": race_predicted,
                               "gender": gender_predicted},
                              {"age": age_true, "race": race_true, "gender": gender_true}, masks)
    # age: errors 3, 4, 0 on the known images 0, 2, 4.
    assert result["heads"]["age"] == pytest.approx(
        {"mae": 7 / 3, "rmse": np.sqrt(25 / 3), "examples": 3})
    # race: predictions 2 0 1 against 2 0 0 on images 0-2.
    assert result["heads"]["race"] == pytest.approx({"accuracy": 2 / 3, "examples": 3})
    # gender: predictions 1 0 1 0 against 1 0 0 1 on images 0-3; the AUC's pairs
    # (positive, negative): (0.9, 0.2) (0.9, 0.7) (0.4, 0.2) right, (0.4, 0.7) wrong.
    assert result["heads"]["gender"] == pytest.approx(
        {"accuracy": 2 / 4, "auc": 3 / 4, "examples": 4})


def test_multilabel_accuracy_is_per_label_and_exact_match_per_image():
    truth = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], np.float32)
    scores = np.array([[0.9, 0.2, 0.6], [0.1, 0.7, 0.8], [0.8, 0.4, 0.3], [0.3, 0.6, 0.1]])
    result = metrics.head_metrics(Task("tags", 3, kind="multilabel"), scores, truth)
    # Wrong cells: (1, 1) and (2, 1): 10 of 12 right; images 0 and 3 wholly right.
    assert result["accuracy"] == pytest.approx(10 / 12)
    assert result["exact_match"] == pytest.approx(2 / 4)
    # Per label AUC: label 0 and label 2 perfectly ranked (1.0); label 1: positives
    # 0.4, 0.6 against negatives 0.2, 0.7: 2 of 4 pairs right (0.5); the mean: 2.5 / 3.
    assert result["auc"] == pytest.approx(2.5 / 3)
