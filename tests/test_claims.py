"""The claim checker: verdicts follow the measured numbers, and missing runs are 'not tested'."""
from __future__ import annotations

import pandas as pd

from kdlib.claims import check_claims, score_levels


def _results(rows):
    return pd.DataFrame(rows, columns=["arch", "teacher", "loss", "measure", "value"])


def test_claims_follow_the_numbers():
    results = _results([
        ("bert_dot", "baseline", "ranknet", "nDCG@10", 0.50),
        ("bert_dot", "T1", "margin_mse", "nDCG@10", 0.55),
        ("bert_dot", "T2", "margin_mse", "nDCG@10", 0.60),
        ("bert_dot", "T2", "pointwise_mse", "nDCG@10", 0.52),
        ("colbert", "baseline", "ranknet", "nDCG@10", 0.52),
        ("colbert", "T1", "margin_mse", "nDCG@10", 0.51),  # worse than its baseline
        ("colbert", "T2", "margin_mse", "nDCG@10", 0.70),
        ("colbert", "T2", "pointwise_mse", "nDCG@10", 0.49),
    ])
    checks = {c.number: c for c in check_claims(results, teacher_values={"T1": 0.65},
                                                latency_ms={"tk": 1.0, "bert_dot": 2.0, "colbert": 3.0})}
    assert checks[2].verdict == "does not hold" and "1/2 improve" in checks[2].evidence
    assert checks[3].verdict == "holds"
    assert checks[4].verdict == "holds" and "0.650" in checks[4].evidence
    assert checks[5].verdict == "holds"
    assert checks[6].verdict == "holds"
    assert checks[7].verdict == "not tested"
    assert checks[1].verdict == "not tested"


def test_latency_order_can_fail():
    results = _results([("tk", "baseline", "ranknet", "nDCG@10", 0.4)])
    checks = {c.number: c for c in check_claims(results, latency_ms={"tk": 5.0, "bert_dot": 2.0})}
    assert checks[5].verdict == "does not hold"


def test_score_levels_rule():
    differ = pd.DataFrame({"arch": ["colbert", "bert_cat"], "mean_pos": [148.0, 8.0], "mean_neg": [135.0, -5.0]})
    assert score_levels(differ).verdict == "holds"
    same = pd.DataFrame({"arch": ["colbert", "bert_cat"], "mean_pos": [9.0, 8.0], "mean_neg": [-4.0, -5.0]})
    assert score_levels(same).verdict == "does not hold"
    unequal_margins = pd.DataFrame({"arch": ["a", "b"], "mean_pos": [100.0, 8.0], "mean_neg": [99.0, -5.0]})
    assert score_levels(unequal_margins).verdict == "does not hold"


def test_dense_claim():
    dense = pd.DataFrame({"teacher": ["baseline", "T1", "T2"], "measure": ["nDCG@10"] * 3, "value": [0.3, 0.4, 0.5]})
    results = _results([("bert_dot", "baseline", "ranknet", "nDCG@10", 0.5)])
    checks = {c.number: c for c in check_claims(results, dense=dense)}
    assert checks[7].verdict == "holds"
    dense.loc[2, "value"] = 0.35
    checks = {c.number: c for c in check_claims(results, dense=dense)}
    assert checks[7].verdict == "does not hold"
