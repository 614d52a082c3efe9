"""Hierarchy.derive / check, and the test metrics, on small hand-made examples."""

import numpy as np
import pytest

from mtl_keras import errors
from mtl_keras.data.labels.hierarchy import Hierarchy
from mtl_keras.reporting import metrics
from mtl_keras.tasks import Task

# 5 fine classes in 3 coarse classes: fine 0,1 → coarse 0; fine 2,3 → coarse 1; fine 4 → coarse 2.
TOY = Hierarchy(levels=("fine", "coarse"),
                class_names={"fine": ("f0", "f1", "f2", "f3", "f4"), "coarse": ("c0", "c1", "c2")},
                parents={"fine": np.array([0, 0, 1, 1, 2])})

# species (6) → genus (3) → family (2).
THREE = Hierarchy(levels=("species", "genus", "family"),
                  class_names={"species": tuple("abcdef"), "genus": ("g0", "g1", "g2"),
                               "family": ("h0", "h1")},
                  parents={"species": np.array([0, 0, 1, 1, 2, 2]), "genus": np.array([0, 0, 1])})


# --------------------------------------------------------------------------- Hierarchy

def test_derive_two_levels():
    labels = TOY.derive([4, 0, 3, 1, 2])
    assert set(labels) == {"fine", "coarse"}
    np.testing.assert_array_equal(labels["fine"], [4, 0, 3, 1, 2])
    np.testing.assert_array_equal(labels["coarse"], [2, 0, 1, 0, 1])


def test_derive_three_levels_chains_through_the_middle_level():
    labels = THREE.derive(np.array([5, 2, 0]))
    np.testing.assert_array_equal(labels["genus"], [2, 1, 0])
    np.testing.assert_array_equal(labels["family"], [1, 0, 0])


def test_check_accepts_consistent_labels_and_skips_absent_levels():
    TOY.check({"fine": np.array([0, 2, 4]), "coarse": np.array([0, 1, 2])}, where="toy")
    TOY.check({"fine": np.array([0, 2, 4])}, where="toy")  # no coarse labels: nothing to compare
    TOY.check({"coarse": np.array([0, 1, 2])}, where="toy")


def test_check_reports_the_first_mismatch():
    with pytest.raises(errors.UserError) as error:
        TOY.check({"fine": np.array([0, 2, 4, 3]), "coarse": np.array([0, 0, 2, 2])}, where="toy split")
    message = str(error.value)
    assert message.startswith("toy split: 2 of 4 examples have a coarse label")
    assert "first: example 1, fine=2, coarse=0, expected 1" in message


@pytest.mark.parametrize("labels,fragment", [
    ({"fine": np.array([0, 5, 1])}, "1 examples have a fine label outside 0..4 (first: example 1, fine=5)"),
    ({"fine": np.array([0, -1, 9])}, "2 examples have a fine label outside 0..4 (first: example 1, fine=-1)"),
    ({"fine": np.array([0, 1]), "coarse": np.array([0, 3])},
     "1 examples have a coarse label outside 0..2 (first: example 1, coarse=3)"),
])
def test_check_refuses_out_of_range_labels(labels, fragment):
    with pytest.raises(errors.UserError) as error:
        TOY.check(labels, where="toy")
    assert fragment in str(error.value)


def test_check_three_levels_catches_a_mismatch_between_the_upper_levels():
    labels = THREE.derive(np.array([0, 3, 5]))
    THREE.check(labels, where="three")
    labels["family"] = np.array([0, 1, 1])  # genus 1 belongs to family 0, not 1
    with pytest.raises(errors.UserError, match="family label that is not the parent of their genus"):
        THREE.check(labels, where="three")


def test_cifar100_hierarchy_facts(cifar_hierarchy):
    h = cifar_hierarchy
    assert h.levels == ("fine", "coarse")
    assert h.num_classes("fine") == 100 and h.num_classes("coarse") == 20
    parents = h.parents["fine"]
    assert parents.shape == (100,)
    # Every superclass of CIFAR-100 has exactly five classes.
    np.testing.assert_array_equal(np.bincount(parents, minlength=20), np.full(20, 5))
    fine, coarse = h.class_names["fine"], h.class_names["coarse"]

    def superclass(name):
        return coarse[parents[fine.index(name)]]

    # Memberships published with the dataset (https://www.cs.toronto.edu/~kriz/cifar.html).
    assert superclass("apple") == "fruit_and_vegetables"
    assert superclass("beaver") == "aquatic_mammals"
    assert superclass("aquarium_fish") == "fish"
    assert superclass("baby") == "people"
    assert superclass("bear") == "large_carnivores"
    assert superclass("tractor") == "vehicles_2"
    assert superclass("maple_tree") == "trees"


# --------------------------------------------------------------------------- metrics

FINE_PROBABILITIES = np.array([
    [0.60, 0.20, 0.10, 0.05, 0.05],  # predicts 0; top-2 {0, 1}
    [0.10, 0.20, 0.30, 0.40, 0.00],  # predicts 3; top-2 {3, 2}
    [0.05, 0.10, 0.15, 0.30, 0.40],  # predicts 4; top-2 {4, 3}
    [0.30, 0.25, 0.20, 0.15, 0.10],  # predicts 0; top-2 {0, 1}; top-3 {0, 1, 2}
    [0.05, 0.15, 0.60, 0.12, 0.08],  # predicts 2; top-2 {2, 1}
])
FINE_LABELS = np.array([0, 3, 3, 4, 2])
# right:           yes, yes, no, no, yes  → accuracy 3/5
# in top-2:        yes, yes, yes, no, yes → 4/5
# in top-3 and 4:  yes, yes, yes, no, yes → 4/5 (label 4 of example 3 is its least likely class)
COARSE_PROBABILITIES = np.array([
    [0.7, 0.2, 0.1],  # predicts 0
    [0.2, 0.3, 0.5],  # predicts 2
    [0.1, 0.8, 0.1],  # predicts 1
    [0.2, 0.3, 0.5],  # predicts 2
    [0.6, 0.1, 0.3],  # predicts 0
])
COARSE_LABELS = np.array([0, 1, 1, 2, 1])  # the parents of FINE_LABELS
# coarse right:                    yes, no, yes, yes, no → 3/5
# parent of fine prediction:       0, 1, 2, 0, 1
#   equals coarse prediction:      yes, no, no, no, no   → consistency 1/5
#   equals coarse label:           yes, yes, no, no, yes → coarse_from_fine 3/5


@pytest.mark.parametrize("k,expected", [(1, 0.6), (2, 0.8), (3, 0.8), (4, 0.8), (5, 1.0)])
def test_top_k_accuracy(k, expected):
    assert metrics.top_k_accuracy(FINE_PROBABILITIES, FINE_LABELS, k) == pytest.approx(expected)


def test_top_k_accuracy_single_examples():
    probabilities = np.array([[0.1, 0.5, 0.4]])
    assert metrics.top_k_accuracy(probabilities, np.array([2]), 1) == 0.0
    assert metrics.top_k_accuracy(probabilities, np.array([2]), 2) == 1.0
    assert metrics.top_k_accuracy(probabilities, np.array([0]), 2) == 0.0


def test_head_metrics_reads_top_k_from_the_metric_name():
    task = Task("fine", 5, metrics=("accuracy", "top2_accuracy", "top3_accuracy"))
    assert metrics.head_metrics(task, FINE_PROBABILITIES, FINE_LABELS) == pytest.approx(
        {"accuracy": 0.6, "top2_accuracy": 0.8, "top3_accuracy": 0.8})
    assert metrics.head_metrics(Task("coarse", 3), COARSE_PROBABILITIES, COARSE_LABELS) == \
        pytest.approx({"accuracy": 0.6})


def test_hierarchy_metrics_two_levels():
    predictions = {"fine": FINE_PROBABILITIES.argmax(1), "coarse": COARSE_PROBABILITIES.argmax(1)}
    result = metrics.hierarchy_metrics(TOY, predictions, {"fine": FINE_LABELS, "coarse": COARSE_LABELS})
    assert result == pytest.approx({"hierarchy_consistency": 0.2, "coarse_from_fine_accuracy": 0.6})


def test_hierarchy_metrics_three_levels():
    predictions = {"species": np.array([5, 2]), "genus": np.array([2, 0]), "family": np.array([1, 1])}
    labels = {"species": np.array([5, 3]), "genus": np.array([2, 1]), "family": np.array([1, 0])}
    # example 0: genus 2 is the parent of species 5, family 1 the parent of genus 2 → consistent.
    # example 1: species 2 implies genus 1, but genus 0 was predicted → inconsistent.
    result = metrics.hierarchy_metrics(THREE, predictions, labels)
    assert result["hierarchy_consistency"] == pytest.approx(0.5)
    assert result["genus_from_species_accuracy"] == pytest.approx(1.0)
    # family implied by the genus predictions [2, 0] is [1, 0]; labels are [1, 0].
    assert result["family_from_genus_accuracy"] == pytest.approx(1.0)
    # Adjacent pairs: species→genus agrees on example 0 only; genus [2, 0] implies family
    # [1, 0] against predicted [1, 1]: agrees on example 0 only.
    assert result["species_genus_consistency"] == pytest.approx(0.5)
    assert result["genus_family_consistency"] == pytest.approx(0.5)
    # family implied by the species predictions [5, 2] → genus [2, 1] → family [1, 0].
    assert result["family_from_species_accuracy"] == pytest.approx(1.0)
    assert set(result) == {"hierarchy_consistency", "genus_from_species_accuracy",
                           "family_from_genus_accuracy", "family_from_species_accuracy",
                           "species_genus_consistency", "genus_family_consistency"}


def test_evaluate_with_hierarchy():
    tasks = (Task("fine", 5, metrics=("accuracy", "top2_accuracy")), Task("coarse", 3))
    result = metrics.evaluate(tasks, TOY, {"fine": FINE_PROBABILITIES, "coarse": COARSE_PROBABILITIES},
                              {"fine": FINE_LABELS, "coarse": COARSE_LABELS})
    assert set(result) == {"heads", "hierarchy_consistency", "coarse_from_fine_accuracy"}
    assert result["heads"] == {"fine": pytest.approx({"accuracy": 0.6, "top2_accuracy": 0.8}),
                               "coarse": pytest.approx({"accuracy": 0.6})}
    assert result["hierarchy_consistency"] == pytest.approx(0.2)
    assert result["coarse_from_fine_accuracy"] == pytest.approx(0.6)


def test_evaluate_without_hierarchy_has_only_heads():
    tasks = (Task("coarse", 3),)
    result = metrics.evaluate(tasks, None, {"coarse": COARSE_PROBABILITIES}, {"coarse": COARSE_LABELS})
    assert result == {"heads": {"coarse": pytest.approx({"accuracy": 0.6})}}
