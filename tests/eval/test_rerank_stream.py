"""Streaming re-ranking, run writing/reading and evaluation (the full-scale path) agree
with their in-memory counterparts."""
from __future__ import annotations

import pytest
import torch

from kdlib.core.errors import FormatError
from kdlib.data import load_dataset, read_run, write_run
from kdlib.data.formats import iter_run, write_run_stream
from kdlib.eval.measures import evaluate, evaluate_run_file, evaluate_stream
from kdlib.eval.rerank import candidate_lists, rerank, rerank_stream
from kdlib.models import build


class Passages(dict):
    """A mapping with get_many that counts its calls (a docs-store stand-in)."""

    calls = 0

    def get_many(self, pids):
        self.calls += 1
        return {p: self[p] for p in pids if p in self}


@pytest.fixture(scope="module")
def dl19():
    return load_dataset("trec-dl-2019", max_queries=8)


@pytest.mark.parametrize("arch", ["bert_cat", "colbert"])
def test_stream_equals_in_memory(dl19, arch):
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=12, passage_max_len=32)
    expected = rerank(ranker, dl19, depth=15, batch_size=32, bf16=False)
    lists, _ = candidate_lists(dl19, depth=15)
    passages = Passages(dl19.passages)
    got = list(rerank_stream(ranker, dl19.queries, lists.items(), passages, batch_size=32, queries_per_chunk=3,
                             precision="fp32"))
    assert [q for q, _ in got] == list(lists) and passages.calls == 3  # 8 queries, 3 per chunk
    passages.calls = 0
    by_pairs = list(rerank_stream(ranker, dl19.queries, lists.items(), passages, pairs_per_chunk=40, precision="fp32"))
    assert passages.calls == 3  # 15 candidates a query: chunks of 45, 45 and 30
    assert [q for q, _ in by_pairs] == [q for q, _ in got]
    assert all(scores == pytest.approx(dict(got)[qid], abs=1e-5) for qid, scores in by_pairs)
    for qid, scores in got:
        assert scores.keys() == expected[qid].keys()
        torch.testing.assert_close(torch.tensor([scores[p] for p in lists[qid]]),
                                   torch.tensor([expected[qid][p] for p in lists[qid]]), atol=1e-4, rtol=1e-4)


def test_run_stream_round_trip_and_streaming_evaluation(dl19, tmp_path):
    run = {q: dict(r) for q, r in dl19.runs["bm25"].items()}
    assert write_run_stream(run.items(), tmp_path / "s.run", tag="bm25") == (8, 800)
    write_run(run, tmp_path / "w.run", tag="bm25")
    assert read_run(tmp_path / "s.run") == read_run(tmp_path / "w.run") == run
    assert dict(iter_run(tmp_path / "s.run")) == run
    measures = ["nDCG@10", "RR(rel=2)@10", "R(rel=2)@100"]
    expected = evaluate(run, dl19.qrels, measures)
    assert evaluate_run_file(tmp_path / "s.run", dl19.qrels, measures) == pytest.approx(expected)
    partial = dict(list(run.items())[:5])  # judged queries missing from the run count 0, as in evaluate()
    assert evaluate_stream(partial.items(), dl19.qrels, measures, queries_per_chunk=2) == pytest.approx(
        evaluate(partial, dl19.qrels, measures))
    with pytest.raises(ValueError, match="comes twice"):
        evaluate_stream([("264014", {"a": 1.0}), ("264014", {"b": 1.0})], dl19.qrels, measures)
    lines = (tmp_path / "s.run").read_text().splitlines()
    (tmp_path / "bad.run").write_text("\n".join(lines[:2] + lines[150:152] + lines[2:3]) + "\n")
    with pytest.raises(FormatError, match=r"bad\.run:5: expected the lines of query .* together"):
        list(iter_run(tmp_path / "bad.run"))


def test_rerank_irds_on_the_miniature(msmarco_mini, tmp_path):
    from kdlib.data import irds
    from kdlib.eval.rerank import rerank_irds

    torch.manual_seed(0)
    ranker = build("colbert", "tiny-random", query_max_len=12, passage_max_len=32)
    output = rerank_irds(ranker, irds.DL19, tmp_path / "dl19.run", depth=3, precision="fp32", queries_per_chunk=16)
    assert (output.queries, output.pairs) == (43, 129)
    assert list(output.measures) == list(irds.measures_for(irds.DL19))
    assert output.measures == pytest.approx(evaluate(read_run(output.path), msmarco_mini.dl19.qrels,
                                                     irds.measures_for(irds.DL19)))
