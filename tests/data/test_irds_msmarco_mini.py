"""The ir_datasets loaders on a miniature MS MARCO read by the real ir_datasets code.

The ``msmarco_mini`` fixture (conftest.py, tests/fixtures/msmarco_mini.py) writes the files
``ir_datasets`` reads for ``msmarco-passage`` into the tests' private ``IR_DATASETS_HOME``;
nothing is downloaded (the machine is offline: a missing file would fail the test).
"""
from __future__ import annotations

import pytest
from fixtures.msmarco_mini import bm25_order, clean

from kdlib.core.profiles import DataConfig
from kdlib.data import Triple, irds
from kdlib.data.triples import training_splits
from kdlib.eval.measures import evaluate


def test_trec_dl_2019_judged(msmarco_mini):
    ds = irds.load_irds(irds.DL19, candidates=True)
    pack = msmarco_mini.dl19
    assert ds.queries == {q: clean(t) for q, t in pack.queries.items()}  # the unjudged extras are filtered out
    assert not set(msmarco_mini.dl19_extra) & set(ds.queries)
    assert ds.qrels == pack.qrels
    run = ds.runs["bm25"]
    assert set(run) == set(pack.runs["bm25"])
    for qid, scores in run.items():
        ranked = sorted(scores, key=scores.get, reverse=True)
        assert ranked == bm25_order(pack.runs["bm25"][qid])  # file order kept, no tie-break by pid
        assert len(set(scores.values())) == len(scores)  # ranks became distinct descending scores
    measures = irds.measures_for(irds.DL19)
    ours, packs = evaluate(run, ds.qrels, measures), evaluate(pack.runs["bm25"], pack.qrels, measures)
    assert ours == pytest.approx(packs, abs=0.01)  # the same ranking (BM25 ties aside)
    assert ours["nDCG@10"] == pytest.approx(0.5058, abs=0.01)


def test_dev_small_candidates_stream_in_rank_order(msmarco_mini):
    qrels = irds.load_qrels(irds.DEV)
    assert set(qrels) <= set(msmarco_mini.dev_qids)
    assert {g for judged in qrels.values() for g in judged.values()} == {1}  # sparse, grade 1
    # The candidate file interleaves queries; 4 queries per pass -> several passes.
    lists = list(irds.iter_candidates(irds.DEV, depth=1000, queries_per_pass=4))
    assert [c.qid for c in lists] == list(irds.load_queries(irds.DEV))
    for cand in lists:
        assert cand.pids == bm25_order(msmarco_mini.dl20.runs["bm25"][cand.qid])
        assert cand.scores == sorted(cand.scores, reverse=True) and cand.scores[-1] == 1.0
    top5 = {c.qid: c.pids for c in irds.iter_candidates(irds.DEV, depth=5)}
    assert all(top5[c.qid] == c.pids[:5] for c in lists)
    values = evaluate({c.qid: dict(zip(c.pids, c.scores)) for c in lists}, qrels, irds.measures_for(irds.DEV))
    assert set(values) == {"RR@10", "R@1000"} and 0 < values["RR@10"] <= 1  # rel=1 counts (grade-1 qrels)


def test_passages_in_batches(msmarco_mini):
    passages = irds.load_irds(irds.DEV).passages
    pids = sorted(msmarco_mini.passages)[:50] + ["not-a-pid"]
    assert passages.get_many(pids) == {p: msmarco_mini.passages[p] for p in pids[:50]}
    assert passages[pids[0]] == msmarco_mini.passages[pids[0]] and "not-a-pid" not in passages
    assert len(passages) == len(msmarco_mini.passages)


def test_train_streams_official_triples_and_never_its_candidates(msmarco_mini):
    assert list(irds.iter_triples(irds.TRAIN)) == [Triple(*t) for t in msmarco_mini.triples]
    ds = irds.load_irds(irds.TRAIN)
    assert dict(ds.runs) == {} and set(ds.queries) == set(msmarco_mini.train_qids)
    assert {g for judged in ds.qrels.values() for g in judged.values()} == {1}
    config = DataConfig(source="ir_datasets", train=(irds.TRAIN,), test=irds.DL19, train_triples="official",
                        validation_queries=3, positive_min_grade=1, rerank_depth=1000)
    splits = training_splits(config)
    assert dict(splits.train.runs) == {} and len(splits.validation.queries) == 3
    assert len(splits.test.runs["bm25"]) == 43
    # The train split's BM25 lists (train/ms.run, 11.5 GB at full scale) were never asked for.
    assert not (msmarco_mini.root / "train" / "ms.run").exists()
