"""The paper-size latency stage: every architecture built untrained from
``eval.latency_paper_encoder``, timed on the first test queries, without training anything."""
from __future__ import annotations

import pytest

import pandas as pd

from kdlib import repro
from kdlib.core import profiles
from kdlib.repro import claims, report


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    return profiles.load("tiny")


def test_every_architecture_is_timed_at_the_paper_size(tiny, tmp_path):
    table = repro.paper_size_latency(tiny)
    assert sorted(table["arch"]) == sorted(tiny.student.architectures)
    assert set(table["encoder"]) == {"random:2:64"} and set(table["device"]) == {"cpu"}
    assert set(table["n_queries"]) == {tiny.eval.latency_paper_queries}
    assert set(table["depth"]) == {tiny.eval.latency_paper_depth}
    # Passage representations precomputed wherever the architecture allows it (the paper's definition).
    assert dict(zip(table["arch"], table["cached"])) == {"bert_cat": False, "bert_dot": True, "colbert": True,
                                                        "prett": True, "tk": True}
    assert (table["median_ms"] > 0).all()
    per_query = repro.paper_size_latency_per_query(tiny)
    first = list(repro.splits(tiny).test.runs[tiny.data.candidates])[: tiny.eval.latency_paper_queries]
    assert per_query.groupby("arch")["qid"].apply(list).map(sorted).tolist() == [sorted(first)] * 5
    cost = repro.paper_size_latency_cost(tiny)
    assert cost["wall_s"] > 0 and cost["cpu_s"] > 0 and cost["cores"] >= 1 and "load_1m_start" in cost
    # Nothing was trained: no student stage ran.
    assert not (tmp_path / "artifacts" / "tiny" / "student").exists()


def test_without_a_paper_size_encoder_nothing_is_measured(tiny):
    unsized = profiles.override(tiny, {"eval.latency_paper_encoder": None})
    assert repro.paper_size_latency(unsized) is None and repro.paper_size_latency_per_query(unsized) is None
    assert repro.paper_size_latency_cost(unsized) is None
    with pytest.raises(ValueError, match="latency_paper_encoder"):
        repro.paper_size_ranker(unsized, "bert_dot")


def test_the_paper_size_rankers_keep_the_students_options_and_lengths():
    embedded = profiles.apply_overrides(profiles.load("embedded"), ["eval.latency_paper_encoder=random:2:64"])
    ranker = repro.paper_size_ranker(embedded, "bert_dot")
    assert ranker.config.encoder == "random:2:64" and ranker.config.options["pooling"] == "mean"
    assert (ranker.config.query_max_len, ranker.config.passage_max_len) == (30, 128)
    again = repro.paper_size_ranker(embedded, "bert_dot")
    assert all((a == b).all() for a, b in zip(ranker.state_dict().values(), again.state_dict().values()))


def test_claim5_evidence_carries_both_latencies_and_is_decided_at_the_paper_size(tiny, monkeypatch):
    # The students' latency needs trained baselines: stand-in figures (tk the slowest).
    students = pd.DataFrame({"arch": ["tk", "tk", "bert_cat", "bert_cat"], "qid": ["a", "b", "a", "b"],
                             "ms": [9.0, 9.5, 1.0, 1.2]})
    monkeypatch.setattr(report, "latency_per_query", lambda profile: students)
    evidence = repro.latency_evidence(tiny)
    assert set(evidence["latency_ms"]) == {"tk", "bert_cat"} and evidence["paper_size_encoder"] == "random:2:64"
    assert set(evidence["paper_size_latency_ms"]) == set(tiny.student.architectures)
    check = claims.check_claim(5, archs=tiny.student.architectures, **evidence)
    assert "Decided at the paper's model size" in check.evidence
    assert "bert_cat (1.1 ms) < tk (9.2 ms)" in check.evidence  # the students' order, beside it
    assert {c.n for c in check.comparisons} == {tiny.eval.latency_paper_queries}
    unsized = profiles.override(tiny, {"eval.latency_paper_encoder": None})
    assert set(repro.latency_evidence(unsized)) == {"latency_ms"}


def test_chapter_6_table_sets_both_sizes_beside_the_papers_gpu_figures(tiny, monkeypatch):
    from kdlib.repro import paper

    students = pd.DataFrame({"arch": list(tiny.student.architectures), "median_ms": [5.0, 1.0, 2.0, 3.0, 4.0]})
    monkeypatch.setattr(report, "latency", lambda profile: students)
    table = repro.latency_comparison(tiny)
    assert list(table.index) == [a for a in paper.figures()["latency_order"] if a in tiny.student.architectures]
    assert list(table.columns) == ["students (tiny-random) ms", "paper size (random:2:64) ms",
                                   "paper (GPU, top-1000, quoted) ms"]
    assert not table.isna().any().any()
    assert table.loc["bert_cat", "paper (GPU, top-1000, quoted) ms"] == 950 and table.loc["tk"].iloc[0] == 4.0
    unsized = profiles.override(tiny, {"eval.latency_paper_encoder": None})
    assert len(repro.latency_comparison(unsized).columns) == 2
    setup = repro.paper_size_setup(tiny)
    assert "`random:2:64` (a BERT of 2 layers, 64 wide, 1 head, with random weights)" in setup
    assert "timed on cpu (1 thread) re-ranking 2 test queries x 5 bm25 candidates, each query's latency its one " \
           "timed run after" in setup
    assert "nan" not in setup.lower()
    assert "sets no `eval.latency_paper_encoder`: its students (`tiny-random`) are timed at their own size only" \
        in repro.paper_size_setup(unsized)
