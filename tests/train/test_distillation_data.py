"""What distilled students train on: label triples plus teacher-scored candidate pairs, the
explicit policy for pairs a published run never scored, and validation from its own year."""
from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from kdlib.core import profiles
from kdlib.data import Dataset, sample_candidate_pairs, training_splits
from kdlib.data.triples import _pair_from_index


def _dataset() -> Dataset:
    passages = {f"p{i}": f"passage {i}" for i in range(12)}
    bm25 = {"1": {f"p{i}": 10.0 - i for i in range(8)}, "2": {"p8": 2.0, "p9": 1.0}, "3": {"p10": 1.0}}
    teacher = {"1": {"p0": 0.9, "p2": 0.8, "p4": 0.5}, "2": {"p8": 0.7, "p9": 0.1}}
    return Dataset("toy", {"1": "q one", "2": "q two", "3": "q three"}, passages, None,
                   {"bm25": bm25, "teacher": teacher})


def test_pair_index_enumerates_every_pair_once():
    for n in (2, 3, 7):
        pairs = [_pair_from_index(k, n) for k in range(n * (n - 1) // 2)]
        assert pairs == list(itertools.combinations(range(n), 2))


def test_candidate_pairs_come_from_the_candidates_and_are_seeded():
    ds = _dataset()
    pairs = sample_candidate_pairs(ds, ["1", "2", "3"], pairs_per_query=5, depth=6, seed=0)
    by_query = {q: [p for p in pairs if p.qid == q] for q in ("1", "2", "3")}
    assert len(by_query["1"]) == 5 and len(by_query["2"]) == 1 and not by_query["3"]  # q3: one candidate
    top6 = {f"p{i}" for i in range(6)}
    assert all({p.pos_pid, p.neg_pid} <= top6 and p.pos_pid != p.neg_pid for p in by_query["1"])
    assert len({frozenset((p.pos_pid, p.neg_pid)) for p in by_query["1"]}) == 5  # distinct pairs
    assert sample_candidate_pairs(ds, ["3", "2", "1"], pairs_per_query=5, depth=6, seed=0) == pairs
    assert sample_candidate_pairs(ds, ["1", "2", "3"], pairs_per_query=5, depth=6, seed=1) != pairs
    # More pairs asked than exist: every pair once.
    assert len(sample_candidate_pairs(ds, ["1"], pairs_per_query=100, depth=4, seed=0)) == 6


def test_candidate_pairs_scored_by_keeps_passages_every_member_scored():
    ds = _dataset()
    pairs = sample_candidate_pairs(ds, ["1", "2"], pairs_per_query=10, depth=8, scored_by=["teacher"], seed=0)
    assert {p.pos_pid for p in pairs} | {p.neg_pid for p in pairs} <= {"p0", "p2", "p4", "p8", "p9"}
    assert len([p for p in pairs if p.qid == "1"]) == 3
    with pytest.raises(ValueError, match="pairs_per_query"):
        sample_candidate_pairs(ds, ["1"], pairs_per_query=0)
    with pytest.raises(ValueError, match="no run"):
        sample_candidate_pairs(ds, ["1"], pairs_per_query=1, candidates="missing")


def _tiny(**changes):
    profile = profiles.load("tiny")
    return profiles.override(profile, changes)


def test_distillation_triples_are_label_triples_plus_candidate_pairs():
    from kdlib.train.pipeline import distillation_triples, student_triples, training_query_ids

    profile = _tiny(**{"data.candidate_pairs_per_query": 3, "teacher.unscored": "query_min"})
    _, labels = student_triples(profile)
    dataset, triples = distillation_triples(profile)
    assert set(labels) <= set(triples)
    extra = [t for t in triples if t not in set(labels)]
    queries = set(training_query_ids(profile))
    assert extra and {t.qid for t in extra} <= queries
    assert all(len([t for t in extra if t.qid == q]) <= 3 for q in queries)
    # The unjudged queries (TREC DL 2022) reach distillation through candidate pairs only.
    unjudged = queries - set(dataset.judged_qids())
    assert unjudged and {t.qid for t in extra} & unjudged and not {t.qid for t in labels} & unjudged
    none = _tiny(**{"data.candidate_pairs_per_query": 0, "teacher.unscored": "query_min"})
    assert sorted(distillation_triples(none)[1]) == sorted(student_triples(none)[1])


def test_unscored_drop_keeps_only_pairs_every_member_that_ranked_the_query_scored():
    from kdlib.teacher.members import published_members
    from kdlib.train.pipeline import distillation_triples, student_triples

    imputed = _tiny(**{"data.candidate_pairs_per_query": 6, "teacher.unscored": "query_min"})
    dropped = _tiny(**{"data.candidate_pairs_per_query": 6, "teacher.unscored": "drop"})
    dataset, all_triples = distillation_triples(imputed)
    _, kept = distillation_triples(dropped)
    runs = [dataset.runs[m] for m in published_members(dropped)]

    def scored(t):
        return all(t.pos_pid in r[t.qid] and t.neg_pid in r[t.qid] for r in runs if r.get(t.qid))

    assert kept and all(scored(t) for t in kept)
    assert any(not scored(t) for t in all_triples), "the fixture should contain unscored pairs"
    # RepLLaMA and TAS-B ranked TREC DL 2020 only: elsewhere SPLADE++ alone decides.
    assert any(not runs[published_members(dropped).index("rep_llama")].get(t.qid) for t in kept)
    # The label-only baseline needs no teacher: it keeps every label triple under either policy.
    assert student_triples(dropped)[1] == student_triples(imputed)[1]


def test_judged_queries_lead_the_training_size_order():
    from kdlib.train.pipeline import training_query_ids

    profile = _tiny()
    judged = set(training_splits(profile.data).train.judged_qids())
    every = training_query_ids(profile)
    assert len(every) > len(judged)
    sized = training_query_ids(profiles.override(profile, {"data.train_queries": len(judged)}))
    assert set(sized) == judged
    smaller = training_query_ids(profiles.override(profile, {"data.train_queries": 4}))
    assert set(smaller) <= judged and len(smaller) == 4


def test_validation_from_holds_out_only_that_year():
    base = profiles.load("tiny").data
    config = replace(base, validation_queries=3, validation_from=("trec-dl-2021",), validation_dataset=None)
    splits = training_splits(config)
    from kdlib.data import load_dataset

    dl21 = set(load_dataset("trec-dl-2021", max_queries=base.max_queries).judged_qids())
    dl20 = set(load_dataset("trec-dl-2020", max_queries=base.max_queries).judged_qids())
    assert set(splits.validation.queries) <= dl21 and len(splits.validation.queries) == 3
    assert dl20 <= set(splits.train.queries)
    with pytest.raises(ValueError, match="not training datasets"):
        training_splits(replace(base, validation_from=("trec-dl-2019",), validation_dataset=None))


def test_smaller_training_sizes_keep_nested_query_subsets():
    from kdlib.train.pipeline import training_query_subset

    qids = [str(q) for q in range(40)]
    small, large = training_query_subset(qids, 10, seed=1), training_query_subset(qids, 20, seed=1)
    assert len(small) == 10 and len(large) == 20 and set(small) <= set(large)
    assert training_query_subset(qids, None, seed=1) == qids == training_query_subset(qids, 99, seed=1)
    assert training_query_subset(qids, 10, seed=2) != small
