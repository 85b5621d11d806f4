"""Query splits and label triples, on a hand-made dataset and on the tiny profile."""
from __future__ import annotations

import dataclasses

import pytest

from kdlib.core import profiles
from kdlib.data import DATASET_RUNS, Dataset, Triple, load_dataset, sample_label_triples, split_queries, training_splits


def _dataset() -> Dataset:
    passages = {f"p{i}": f"passage {i}" for i in range(10)}
    qrels = {"1": {"p0": 3, "p1": 2, "p2": 1, "p3": 0, "p9": 2}, "2": {"p5": 2}}
    run = {
        "1": {"p0": 9.0, "p1": 8.0, "p2": 7.0, "p3": 6.0, "p4": 5.0, "p6": 4.0, "p7": 3.0},
        "2": {"p5": 5.0, "p6": 4.0},
    }
    return Dataset("toy", {"1": "q one", "2": "q two"}, passages, qrels, {"bm25": run})


def test_split_queries_is_seeded_and_sorted():
    qids = [str(i) for i in range(20, 0, -1)]
    train, val = split_queries(qids, 5, seed=1)
    assert len(val) == 5 and len(train) == 15 and set(train).isdisjoint(val)
    assert train == sorted(train, key=int) and val == sorted(val, key=int)
    assert split_queries(qids, 5, seed=1) == (train, val)
    assert split_queries(qids, 5, seed=2) != (train, val)
    assert split_queries(qids, 0, seed=1) == (sorted(qids, key=int), [])
    with pytest.raises(ValueError):
        split_queries(qids, 20, seed=1)


def test_label_triples():
    ds = _dataset()
    triples = sample_label_triples(ds, ["1", "2"], negatives_per_positive=2, depth=6, seed=3)
    assert all(isinstance(t, Triple) for t in triples)
    # q1: positives are the passages judged >= 2, retrieved or not (p9 is not in the run)
    positives = {t.pos_pid for t in triples if t.qid == "1"}
    assert positives == {"p0", "p1", "p9"}
    # negatives: top-6 of the run judged 0 or unjudged: p3, p4, p6 (p2 is grade 1, p7 below depth)
    assert {t.neg_pid for t in triples if t.qid == "1"} <= {"p3", "p4", "p6"}
    assert sum(t.qid == "1" for t in triples) == 3 * 2
    assert [t for t in triples if t.qid == "2"] == [Triple("2", "p5", "p6")]
    assert sample_label_triples(ds, ["2", "1"], negatives_per_positive=2, depth=6, seed=3) == triples
    higher = sample_label_triples(ds, ["1"], negatives_per_positive=1, positive_min_grade=3, depth=6, seed=3)
    assert {t.pos_pid for t in higher} == {"p0"}


def test_label_triples_need_judgements_and_run():
    ds = _dataset()
    with pytest.raises(ValueError, match="no judgements"):
        sample_label_triples(Dataset("x", ds.queries, ds.passages, None, ds.runs), ["1"], negatives_per_positive=1)
    with pytest.raises(ValueError, match="no run"):
        sample_label_triples(ds, ["1"], negatives_per_positive=1, candidates="tas_b")


def test_training_splits_tiny_profile():
    config = profiles.load("tiny").data
    splits = training_splits(config)
    assert len(splits.validation.queries) == config.validation_queries
    # Validation is held out of the dev sample, so every training query stays, judged (TREC DL
    # 2020, 2021) or not (2022: unjudged, a teacher ranked it).
    assert config.validation_dataset == "msmarco-dev-sample"
    assert set(splits.validation.queries) <= set(load_dataset("msmarco-dev-sample").queries)
    assert len(splits.train.queries) == config.max_queries * len(config.train)
    assert len(splits.train.judged_qids()) == config.max_queries * 2
    assert set(load_dataset("trec-dl-2022", max_queries=config.max_queries).queries) <= set(splits.train.queries)
    assert len(splits.test.queries) == config.max_queries and splits.test.name == config.test
    assert set(splits.train.queries).isdisjoint(splits.validation.queries)
    assert set(splits.test.queries).isdisjoint(set(splits.train.queries) | set(splits.validation.queries))
    assert training_splits(config) == splits
    triples = sample_label_triples(
        splits.train, splits.train.queries, negatives_per_positive=config.negatives_per_positive, seed=config.seed
    )
    assert triples and all(t.qid in splits.train.queries for t in triples)
    bad = profiles.override(profiles.load("tiny"), {"data.train": ["trec-dl-2019"]}).data
    with pytest.raises(ValueError, match="also a training dataset"):
        training_splits(bad)


def test_teacher_runs_from_keeps_a_year_without_its_teacher_runs():
    # A training year left out of teacher_runs_from comes with its first-stage runs only (and
    # the passage texts they carry); the default (null) admits every dataset's teacher runs.
    config = dataclasses.replace(profiles.load("embedded").data, teacher_runs_from=("trec-dl-2020", "trec-dl-2022"))
    splits = training_splits(config)
    dl21 = load_dataset("trec-dl-2021")
    first_stage = load_dataset("trec-dl-2021", runs=["bm25", "bm25_rm3"])
    assert not set(splits.train.runs["splade_pp"]) & set(dl21.queries)
    assert set(splits.train.passages) >= set(first_stage.passages)
    assert not set(splits.train.passages) & (set(dl21.passages) - set(first_stage.passages))
    assert set(splits.test.runs) == set(DATASET_RUNS["trec-dl-2019"])  # the test set keeps all its runs
    assert profiles.load("embedded").data.teacher_runs_from is None
    opened = training_splits(dataclasses.replace(config, teacher_runs_from=None))
    assert set(dl21.queries) <= set(opened.train.runs["splade_pp"]) | set(opened.validation.runs.get("splade_pp", {}))
    assert set(dl21.passages) <= set(opened.train.passages)
