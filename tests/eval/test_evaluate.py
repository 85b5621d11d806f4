"""Evaluation: published BM25 figures, and hand-made qrels and runs written as TREC strings."""
from __future__ import annotations

import math

import pytest

from kdlib.data import load_dataset, read_qrels, read_run
from kdlib.eval.measures import DEFAULT_MEASURES, compare_runs, evaluate, evaluate_per_query, results_table

QRELS = """\
q1 0 d1 3
q1 0 d2 0
q1 0 d3 2
q2 0 d4 1
q2 0 d5 2
q3 0 d6 2
"""
RUN_A = """\
q1 Q0 d1 1 3.0 a
q1 Q0 d2 2 2.0 a
q1 Q0 d3 3 1.0 a
q2 Q0 d9 1 5.0 a
q2 Q0 d5 2 4.0 a
"""
RUN_B = """\
q1 Q0 d2 1 3.0 b
q1 Q0 d3 2 2.0 b
q1 Q0 d1 3 1.0 b
q2 Q0 d5 1 5.0 b
q3 Q0 d6 1 1.0 b
"""


@pytest.fixture()
def toy(tmp_path):
    files = {}
    for name, text in {"qrels": QRELS, "a": RUN_A, "b": RUN_B}.items():
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(text)
    return read_qrels(files["qrels"]), read_run(files["a"]), read_run(files["b"])


def test_default_measures():
    assert [str(m) for m in DEFAULT_MEASURES] == ["nDCG@10", "RR(rel=2)@10", "R(rel=2)@100", "R(rel=2)@1000"]


@pytest.mark.parametrize("name, expected", [("trec-dl-2019", 0.5058), ("trec-dl-2020", 0.4796)])
def test_bm25_published_figures(name, expected):
    ds = load_dataset(name)
    assert round(evaluate(ds.runs["bm25"], ds.qrels, ["nDCG@10"])["nDCG@10"], 4) == expected


def test_neural_runs_match_sources_md():
    dl19, dl20 = load_dataset("trec-dl-2019"), load_dataset("trec-dl-2020")
    table19 = results_table(dl19.runs, dl19.qrels, ["nDCG@10"])["nDCG@10"].round(3)
    table20 = results_table(dl20.runs, dl20.qrels, ["nDCG@10"])["nDCG@10"].round(3)
    assert table19[["tas_b", "splade_pp", "ada2", "rep_llama"]].tolist() == [0.721, 0.731, 0.704, 0.738]
    assert table20[["tas_b", "splade_pp", "ada2", "rep_llama"]].tolist() == [0.685, 0.72, 0.676, 0.719]


def test_hand_computed_values(toy):
    qrels, run_a, run_b = toy
    per_query = evaluate_per_query(run_a, qrels, ["RR(rel=2)@10", "nDCG@10", "R(rel=2)@100"])
    values = {(r.qid, r.measure): r.value for r in per_query.itertuples()}
    # q1: d1 (grade 3) at rank 1 -> RR 1. q2: d5 (grade 2) at rank 2 -> RR 1/2. q3 missing -> 0.
    assert values[("q1", "RR(rel=2)@10")] == 1.0
    assert values[("q2", "RR(rel=2)@10")] == 0.5
    assert values[("q3", "RR(rel=2)@10")] == 0.0 and values[("q3", "nDCG@10")] == 0.0
    # q1 nDCG: DCG = 3/log2(2) + 0 + 2/log2(4) = 4; ideal = 3 + 2/log2(3).
    assert values[("q1", "nDCG@10")] == pytest.approx(4 / (3 + 2 / math.log2(3)))
    # q2 recall at grade >= 2: the one relevant passage d5 is retrieved.
    assert values[("q2", "R(rel=2)@100")] == 1.0
    means = evaluate(run_a, qrels, ["RR(rel=2)@10"])
    assert means == {"RR(rel=2)@10": pytest.approx((1.0 + 0.5 + 0.0) / 3)}  # q3 counts as 0


def test_unjudged_run_queries_are_ignored(toy):
    qrels, run_a, _ = toy
    extra = {**run_a, "q99": {"d1": 1.0}}
    assert evaluate(extra, qrels) == evaluate(run_a, qrels)
    with pytest.raises(ValueError, match="judge no query"):
        evaluate(run_a, {})


def test_paired_tests(toy):
    qrels, run_a, run_b = toy
    t = compare_runs(run_a, run_b, qrels, "RR(rel=2)@10")
    # per query a = (1, .5, 0), b = (1/2, 1, 1): mean difference (−.5 + .5 + 1) / 3
    assert t.n == 3 and t.difference == pytest.approx(1 / 3) and t.mean_b == pytest.approx(2.5 / 3)
    assert 0 < t.p_value < 1
    w = compare_runs(run_a, run_b, qrels, "RR(rel=2)@10", test="wilcoxon")
    assert w.test == "wilcoxon" and 0 < w.p_value <= 1
    same = compare_runs(run_a, run_a, qrels, "nDCG@10")
    assert same.p_value == 1.0 and same.difference == 0.0
    with pytest.raises(ValueError):
        compare_runs(run_a, run_b, qrels, "nDCG@10", test="sign")
    with pytest.raises(ValueError, match="not an ir-measures measure"):
        evaluate(run_a, qrels, ["nDCG@ten"])


def test_results_table(toy):
    qrels, run_a, run_b = toy
    table = results_table({"a": run_a, "b": run_b}, qrels)
    assert list(table.index) == ["a", "b"] and list(table.columns) == [str(m) for m in DEFAULT_MEASURES]
    assert table.loc["b", "RR(rel=2)@10"] == pytest.approx(2.5 / 3)
