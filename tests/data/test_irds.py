"""The ir_datasets adapter, on fake datasets built from ir_datasets' own record types."""
from __future__ import annotations

import pytest
from ir_datasets.formats import GenericDoc, GenericDocPair, GenericQuery, GenericScoredDoc, TrecQrel

from kdlib.data import Triple, load_irds
from kdlib.data.irds import (
    Candidates,
    candidate_run,
    irds_triples,
    iter_candidates,
    iter_triples,
    load_qrels,
    load_queries,
    measures_for,
)


class _Store:
    def __init__(self, docs):
        self.docs = {d.doc_id: d for d in docs}
        self.calls = 0

    def get(self, doc_id):
        self.calls += 1
        return self.docs[doc_id]

    def get_many(self, ids):
        return {i: self.docs[i] for i in ids if i in self.docs}


class _FakeDataset:
    def __init__(self, queries=(), qrels=(), scoreddocs=(), docpairs=(), docs=()):
        self._q, self._qrels, self._sd, self._dp, self._docs = queries, qrels, scoreddocs, docpairs, docs
        self.store = _Store(docs)

    def has_queries(self):
        return bool(self._q)

    def has_qrels(self):
        return bool(self._qrels)

    def has_scoreddocs(self):
        return bool(self._sd)

    def has_docpairs(self):
        return bool(self._dp)

    def queries_iter(self):
        return iter(self._q)

    def qrels_iter(self):
        return iter(self._qrels)

    def scoreddocs_iter(self):
        return iter(self._sd)

    def docpairs_iter(self):
        return iter(self._dp)

    def docs_iter(self):
        return iter(self._docs)

    def docs_count(self):
        return len(self._docs)

    def docs_store(self):
        return self.store


DOCS = [GenericDoc("0", "The presence of communication."), GenericDoc("7", "Manhattan project."), GenericDoc("9", "x")]
DEV = _FakeDataset(
    queries=[GenericQuery("1048585", "what is paula deen's brother"), GenericQuery("2", "androgen receptor define")],
    qrels=[TrecQrel("1048585", "7", 1, "0")],
    scoreddocs=[GenericScoredDoc("1048585", "7", 12.5), GenericScoredDoc("1048585", "0", 3.0), GenericScoredDoc("2", "9", 1.0)],
    docs=DOCS,
)
TRAIN = _FakeDataset(
    queries=[GenericQuery("400296", "q")],
    qrels=[TrecQrel("400296", "7", 1, "0")],
    docpairs=[GenericDocPair("400296", "7", "0"), GenericDocPair("400296", "7", "9")],
    docs=DOCS,
)
LOADER = {"msmarco-passage/dev/small": DEV, "msmarco-passage/train/triples-small": TRAIN}.__getitem__


def test_dev_as_dataset():
    assert dict(load_irds("msmarco-passage/dev/small", loader=LOADER).runs) == {}  # candidates only when asked
    ds = load_irds("msmarco-passage/dev/small", loader=LOADER, candidates=True)
    assert ds.queries == {"1048585": "what is paula deen's brother", "2": "androgen receptor define"}
    assert ds.qrels == {"1048585": {"7": 1}}
    assert ds.runs["bm25"] == {"1048585": {"7": 12.5, "0": 3.0}, "2": {"9": 1.0}}
    assert ds.judged_qids() == ["1048585"]
    sub = ds.subset(ds.judged_qids())
    assert set(sub.runs["bm25"]) == {"1048585"}


def test_passages_are_lazy():
    fresh = _FakeDataset(queries=[GenericQuery("1", "q")], docs=DOCS)
    ds = load_irds("fake", loader=lambda name: fresh)
    assert fresh.store.calls == 0
    assert ds.passages["7"] == "Manhattan project." and fresh.store.calls == 1
    assert "404" not in ds.passages
    with pytest.raises(KeyError):
        ds.passages["404"]
    assert len(ds.passages) == 3 and sorted(ds.passages) == ["0", "7", "9"]
    assert ds.passages.get_many(["0", "404"]) == {"0": "The presence of communication."}
    assert ds.qrels is None and dict(ds.runs) == {}


def test_candidates_in_file_order_get_descending_scores():
    # MS MARCO's top-1000 comes without scores (ir_datasets: 0): the file order is the rank.
    # The lines of a query need not be adjacent; a repeated passage keeps its first rank.
    lines = [("q1", "d5"), ("q2", "d1"), ("q1", "d3"), ("q1", "d9"), ("q2", "d2"), ("q1", "d3"), ("q3", "d4")]
    zero = _FakeDataset(
        queries=[GenericQuery(q, q) for q in ("q2", "q1", "q4")],
        scoreddocs=[GenericScoredDoc(q, d, 0.0) for q, d in lines],
    )
    loader = lambda name: zero  # noqa: E731
    for per_pass in (1, 2, 1000):
        got = list(iter_candidates("x", loader=loader, queries_per_pass=per_pass))
        assert got == [Candidates("q2", ["d1", "d2"], [2.0, 1.0]), Candidates("q1", ["d5", "d3", "d9"], [3.0, 2.0, 1.0])]
    assert list(iter_candidates("x", loader=loader, depth=2, qids=["q1", "q3"])) == [
        Candidates("q1", ["d5", "d3"], [2.0, 1.0]), Candidates("q3", ["d4"], [1.0])]
    assert candidate_run("x", loader=loader, depth=1) == {"q2": {"d1": 1.0}, "q1": {"d5": 1.0}}
    # Real scores are kept and decide the order (ties: file order).
    scored = _FakeDataset(queries=[GenericQuery("q", "q")], scoreddocs=[
        GenericScoredDoc("q", "a", 1.0), GenericScoredDoc("q", "b", 3.0), GenericScoredDoc("q", "c", 1.0)])
    assert list(iter_candidates("y", loader=lambda n: scored)) == [Candidates("q", ["b", "a", "c"], [3.0, 1.0, 1.0])]
    with pytest.raises(ValueError, match="no scoreddocs"):
        list(iter_candidates("msmarco-passage/train/triples-small", loader=LOADER))
    with pytest.raises(ValueError, match="depth"):
        list(iter_candidates("x", loader=loader, depth=0))


def test_measures_per_dataset():
    assert measures_for("msmarco-passage/dev/small") == ("RR@10", "R@1000")
    assert measures_for("msmarco-passage/trec-dl-2019/judged") == ("nDCG@10", "RR(rel=2)@10", "R(rel=2)@1000")
    assert measures_for("trec-dl-2020") == ("nDCG@10", "RR(rel=2)@10", "R(rel=2)@100", "R(rel=2)@1000")
    assert measures_for("trec-dl-2020", default=["nDCG@10"]) == ("nDCG@10",)
    assert measures_for("msmarco-dev-sample") == ("RR@10", "R@20")  # the pack's own (PACK_MEASURES)
    assert load_qrels("msmarco-passage/train/triples-small", loader=LOADER) == {"400296": {"7": 1}}
    assert load_queries("msmarco-passage/train/triples-small", loader=LOADER) == {"400296": "q"}


def test_docpairs_as_triples():
    assert list(iter_triples(loader=LOADER)) == list(irds_triples(loader=LOADER)) == [Triple("400296", "7", "0"), Triple("400296", "7", "9")]
    with pytest.raises(ValueError, match="no docpairs"):
        list(irds_triples("msmarco-passage/dev/small", loader=LOADER))
