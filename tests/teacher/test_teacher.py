"""Teacher scoring: ensembles, published-run teachers, resumable and sharded scoring."""
from __future__ import annotations

import numpy as np
import pytest
from train.test_train import StandInRanker, easy_dataset

from kdlib.core.errors import FormatError, KdlibError
from kdlib.data import Dataset, Triple, read_teacher_scores, write_teacher_scores
from kdlib.teacher import (
    member_scores,
    published_teacher_scores,
    read_examples_from_teacher_file,
    score_triples,
    shard_range,
)
from kdlib.teacher.published import impute_pairs


def _triples(dataset, per_query: int = 5) -> list[Triple]:
    triples = []
    for qid in dataset.judged_qids():
        pos = next(p for p, g in dataset.qrels[qid].items() if g >= 2)
        negs = [p for p in dataset.runs["bm25"][qid] if p != pos]
        triples += [Triple(qid, pos, n) for n in negs[:per_query]]
    return triples


def _rows(path):
    return [tuple(r) for r in read_teacher_scores(path)]


def test_ensemble_is_the_per_pair_mean(tmp_path):
    data = easy_dataset(4)
    triples = _triples(data)
    a, b = StandInRanker(seed=1), StandInRanker(seed=2)
    score_triples([a], triples, tmp_path / "a.tsv", dataset=data, batch_size=4, progress=False)
    score_triples([b], triples, tmp_path / "b.tsv", dataset=data, batch_size=4, progress=False)
    score_triples([a, b], triples, tmp_path / "ab.tsv", dataset=data, batch_size=4, progress=False)
    ra, rb, rab = _rows(tmp_path / "a.tsv"), _rows(tmp_path / "b.tsv"), _rows(tmp_path / "ab.tsv")
    assert [r[2:] for r in rab] == [tuple(t) for t in triples]
    assert np.allclose([r[:2] for r in rab], (np.array([r[:2] for r in ra]) + np.array([r[:2] for r in rb])) / 2,
                       atol=2e-6)
    assert not np.allclose([r[:2] for r in ra], [r[:2] for r in rb])


def _published_dataset() -> Dataset:
    queries = {"1": "q one", "2": "q two"}
    passages = {p: p for p in ("a", "b", "c", "d", "e")}
    runs = {
        "small": {"1": {"a": 0.9, "b": 0.8, "c": 0.7}, "2": {"d": 0.6, "e": 0.5}},
        "large": {"1": {"a": 30.0, "c": 10.0}, "2": {"d": 20.0, "e": 25.0}},
    }
    return Dataset("pub", queries, passages, {"1": {"a": 3}, "2": {"d": 2}}, runs)


def test_published_teacher_imputes_query_minimum_and_zscores():
    data = _published_dataset()
    triples = [Triple("1", "a", "b"), Triple("1", "a", "c"), Triple("2", "d", "e")]
    large = member_scores(data, triples, "large")
    assert large.imputed == 1 and large.pairs == 6
    assert large.neg.tolist() == [10.0, 10.0, 25.0]  # "b" is outside the run: query 1's minimum (10)
    raw = published_teacher_scores(data, triples, ["large"], normalisation="none")
    assert [r.pos_score for r in raw] == [30.0, 30.0, 20.0]
    z = published_teacher_scores(data, triples, ["large"], scale=4.0)
    values = np.array([[r.pos_score, r.neg_score] for r in z]).ravel()
    assert values.mean() == pytest.approx(0.0, abs=1e-9) and values.std() == pytest.approx(4.0)
    small_z = published_teacher_scores(data, triples, ["small"], scale=4.0)
    t2 = published_teacher_scores(data, triples, ["small", "large"], scale=4.0)
    for s, l, m in zip(small_z, z, t2):
        assert m.pos_score == pytest.approx((s.pos_score + l.pos_score) / 2)
        assert m.neg_score == pytest.approx((s.neg_score + l.neg_score) / 2)
        assert (m.qid, m.pos_pid, m.neg_pid) == (s.qid, s.pos_pid, s.neg_pid)


def test_a_member_takes_no_part_in_a_query_it_did_not_rank():
    data = _published_dataset()
    triples = [Triple("1", "a", "b"), Triple("1", "a", "c"), Triple("2", "d", "e")]
    partial = Dataset("x", data.queries, data.passages, None,
                      {"only1": {"1": {"a": 5.0, "b": 3.0, "c": 1.0}}, "both": dict(data.runs["large"])})
    scores = member_scores(partial, triples, "only1")
    assert scores.covered.tolist() == [True, True, False]
    assert np.isnan(scores.pos[2]) and np.isnan(scores.neg[2]) and scores.imputed == 0
    assert scores.scored_pairs == 4
    alone = published_teacher_scores(partial, triples, ["both"], scale=4.0)
    mean = published_teacher_scores(partial, triples, ["only1", "both"], scale=4.0)
    only = published_teacher_scores(partial, triples[:2], ["only1"], scale=4.0)
    # Query 2: the mean of the members that ranked it ("both" alone); query 1: of both members.
    assert (mean[2].pos_score, mean[2].neg_score) == pytest.approx((alone[2].pos_score, alone[2].neg_score))
    assert mean[0].pos_score == pytest.approx((only[0].pos_score + alone[0].pos_score) / 2)
    with pytest.raises(KdlibError, match=r"no member of \['only1'\] ranked 1 queries \(e.g. \['2'\]\)"):
        published_teacher_scores(partial, triples, ["only1"])
    with pytest.raises(KdlibError, match="no scores for 1 queries"):
        impute_pairs(partial.runs["only1"], [("1", "a"), ("2", "d")], "only1")


def test_scoring_resumes_without_repeating_or_skipping(tmp_path):
    data = easy_dataset(5)
    triples = _triples(data, per_query=7)
    teacher = StandInRanker(seed=4)
    whole = tmp_path / "whole.tsv"
    score_triples([teacher], triples, whole, dataset=data, batch_size=3, flush_every=6, progress=False)
    out = tmp_path / "resumed.tsv"
    assert score_triples([teacher], triples, out, dataset=data, batch_size=3, flush_every=6, progress=False,
                         stop_after=12) is None
    assert not out.exists()
    partial = tmp_path / "resumed.tsv.partial"
    assert partial.read_text().count("\n") == 12
    with open(partial, "a") as handle:  # a kill mid-write: lines after the last progress mark
        handle.write("0.1\t0.2\t1\t1-0\t1-3\n0.5\t0.")
    assert score_triples([teacher], triples, out, dataset=data, batch_size=3, flush_every=6, progress=False) == out
    assert out.read_bytes() == whole.read_bytes()
    assert not partial.exists()


def test_sharded_equals_unsharded(tmp_path):
    data = easy_dataset(5)
    triples = _triples(data, per_query=7)
    teacher = StandInRanker(seed=5)
    single = tmp_path / "single.tsv"
    score_triples([teacher], triples, single, dataset=data, batch_size=4, progress=False)
    sharded = tmp_path / "sharded.tsv"
    # Ranks scored one after the other; rank 0, finishing last, merges the shards in rank order.
    assert score_triples([teacher], triples, sharded, dataset=data, batch_size=4, rank=1, world_size=2,
                         progress=False) is None
    assert score_triples([teacher], triples, sharded, dataset=data, batch_size=4, rank=0, world_size=2,
                         progress=False) == sharded
    assert sharded.read_bytes() == single.read_bytes()
    assert shard_range(35, 4, 0, 2) == (0, 20) and shard_range(35, 4, 1, 2) == (20, 35)


def test_teacher_file_back_to_examples(tmp_path, caplog):
    data = easy_dataset(3)
    triples = _triples(data, per_query=2)
    path = tmp_path / "t.tsv"
    records = [(1.5, -0.5, t.qid, t.pos_pid, t.neg_pid) for t in triples] + [(1.0, 0.0, "999", "x", "y")]
    write_teacher_scores(records, path)
    examples = read_examples_from_teacher_file(path, data)
    assert len(examples) == len(triples)
    first = triples[0]
    assert examples[0].query == data.queries[first.qid] and examples[0].neg_text == data.passages[first.neg_pid]
    assert (examples[0].pos_score, examples[0].neg_score) == (1.5, -0.5)
    assert "1 of" in caplog.text and "999" in caplog.text
    with pytest.raises(FormatError, match=r"t.tsv:\d+"):
        read_examples_from_teacher_file(path, data, strict=True)


def test_teacher_ranking_is_built_like_the_teacher_files():
    """Re-ranking candidate lists with a published setting uses the same imputation,
    normalisation and mean as the teacher files: on the pairs of a triple pool, the two agree."""
    from kdlib.teacher.published import published_teacher_ranking

    data = _published_dataset()
    triples = [Triple("1", "a", "b"), Triple("2", "d", "e")]
    # The candidate lists hold exactly the triples' pairs, so both standardise over the same scores.
    lists = {"1": ["a", "b"], "2": ["d", "e"]}
    files = published_teacher_scores(data, triples, ["small", "large"], scale=4.0)
    ranking = published_teacher_ranking(data, lists, ["small", "large"], scale=4.0)
    for record in files:
        assert ranking[record.qid][record.pos_pid] == pytest.approx(record.pos_score)
        assert ranking[record.qid][record.neg_pid] == pytest.approx(record.neg_score)
    raw = published_teacher_ranking(data, lists, ["large"], normalisation="none")
    assert raw["1"]["b"] == 10.0  # outside the run: query 1's minimum
    with pytest.raises(KdlibError, match="unknown normalisation"):
        published_teacher_ranking(data, lists, ["large"], normalisation="minmax")


def test_groups_standardise_each_training_dataset_on_its_own():
    # SPLADE++ scores TREC DL 2020 at ~1e5 and 2021 at ~1e6: standardised together, the small
    # year's margins would shrink to almost nothing.
    queries = {"1": "q one", "2": "q two"}
    passages = {p: p for p in "abcd"}
    runs = {"splade": {"1": {"a": 2.0e5, "b": 1.0e5}, "2": {"c": 3.0e6, "d": 1.0e6}}}
    data = Dataset("years", queries, passages, None, runs)
    triples = [Triple("1", "a", "b"), Triple("2", "c", "d")]
    together = published_teacher_scores(data, triples, ["splade"], scale=1.0)
    apart = published_teacher_scores(data, triples, ["splade"], scale=1.0, groups={"1": "dl20", "2": "dl21"})
    margin = [r.pos_score - r.neg_score for r in together]
    assert margin[0] < 0.2 * margin[1]
    assert [r.pos_score - r.neg_score for r in apart] == pytest.approx([2.0, 2.0])
