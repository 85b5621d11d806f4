"""Published-run teachers on a fixture where per-query and per-run answers differ.

- Imputation uses the *query's* minimum: query q1's minimum (3) is neither the minimum over
  the triples' queries (-2) nor the whole run's (-50, a query no triple uses).
- Z-normalisation uses one mean and standard deviation per *member* (all its scores on these
  triples, positives and negatives together); the queries' means differ, so a per-query
  normalisation gives other numbers.
- The ensemble (T2) is the per-pair mean of the members' normalised scores; the members'
  scales differ by 100x, so averaging raw scores first gives other numbers.

Expected values are computed here from those definitions with plain NumPy.
"""
from __future__ import annotations

import numpy as np
import pytest

from kdlib.data import Dataset, Triple
from kdlib.teacher import member_scores, published_teacher_scores

RUNS = {
    "small": {
        "q1": {"a": 5.0, "b": 3.0},
        "q2": {"c": 1.0, "d": -2.0, "e": 0.5},
        "q3": {"z": -50.0},  # in the run, in no triple
    },
    "large": {
        "q1": {"a": 100.0, "b": 400.0, "x": 250.0},
        "q2": {"c": 900.0, "e": 700.0},
        "q3": {"z": 1.0},
    },
}
TRIPLES = [Triple("q1", "a", "x"), Triple("q1", "b", "a"), Triple("q2", "c", "d"), Triple("q2", "y", "e")]
# The raw scores each member should give (pos, neg), absent pairs at the query's minimum.
RAW = {
    "small": [(5.0, 3.0), (3.0, 5.0), (1.0, -2.0), (-2.0, 0.5)],  # x (q1) -> 3; y (q2) -> -2
    "large": [(100.0, 250.0), (400.0, 100.0), (900.0, 700.0), (700.0, 700.0)],  # d, y (q2) -> 700
}


def dataset() -> Dataset:
    passages = {p: f"passage {p}" for p in "abcdexyz"}
    return Dataset("asym", {"q1": "one", "q2": "two", "q3": "three"}, passages, None, RUNS)


def zscore(pairs: list[tuple[float, float]], scale: float) -> np.ndarray:
    values = np.array(pairs, dtype=float)
    mean = values.sum() / values.size
    std = np.sqrt(((values - mean) ** 2).sum() / values.size)
    return (values - mean) / std * scale


@pytest.mark.parametrize("member", ["small", "large"])
def test_absent_pairs_get_the_querys_minimum(member):
    scores = member_scores(dataset(), TRIPLES, member)
    assert list(zip(scores.pos, scores.neg)) == RAW[member]
    assert scores.imputed == {"small": 2, "large": 2}[member] and scores.pairs == 8


def test_zscore_uses_one_mean_and_std_per_member():
    records = published_teacher_scores(dataset(), TRIPLES, ["small"], scale=4.0)
    got = np.array([(r.pos_score, r.neg_score) for r in records])
    np.testing.assert_allclose(got, zscore(RAW["small"], 4.0), atol=1e-9)
    # The fixture really separates the two readings: q1's and q2's raw means differ.
    assert np.mean(RAW["small"][:2]) != pytest.approx(np.mean(RAW["small"][2:]))


def test_raw_scores_without_normalisation():
    records = published_teacher_scores(dataset(), TRIPLES, ["large"], normalisation="none")
    assert [(r.pos_score, r.neg_score) for r in records] == RAW["large"]


@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_ensemble_is_the_mean_of_normalised_members(scale):
    records = published_teacher_scores(dataset(), TRIPLES, ["small", "large"], scale=scale)
    got = np.array([(r.pos_score, r.neg_score) for r in records])
    expected = (zscore(RAW["small"], scale) + zscore(RAW["large"], scale)) / 2
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert [(r.qid, r.pos_pid, r.neg_pid) for r in records] == [tuple(t) for t in TRIPLES]
    # Averaging the raw scores first would be dominated by the large member.
    assert not np.allclose(expected, zscore([tuple(np.add(a, b) / 2) for a, b in zip(RAW["small"], RAW["large"])], scale))


def test_ensemble_of_raw_members_is_their_per_pair_mean():
    records = published_teacher_scores(dataset(), TRIPLES, ["small", "large"], normalisation="none")
    expected = (np.array(RAW["small"]) + np.array(RAW["large"])) / 2
    np.testing.assert_allclose([(r.pos_score, r.neg_score) for r in records], expected)
