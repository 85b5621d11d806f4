"""The claim checker: verdicts follow per-query numbers, noise is tested, missing runs are 'not tested'.

Every claim is exercised where it holds, where it only holds in direction (noise), where it does
not hold, and on a tie, with hand-made per-query values whose t-tests are easy to reason about.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kdlib.repro.claims import (
    ALPHA,
    OWN_TEACHER,
    check_claims,
    paired,
    queries_needed,
    score_levels,
    verdict_of,
    write_claims_csv,
)

QIDS = [str(q) for q in range(40)]
RNG = np.random.default_rng(0)
NOISE = pd.Series(RNG.normal(0, 0.05, len(QIDS)), index=QIDS)


def series(mean: float, noise: float = 1.0) -> pd.Series:
    """Per-query values around ``mean``; every series shares the same noise pattern (scaled)."""
    return pd.Series(mean, index=QIDS) + noise * NOISE


def jitter(values: pd.Series, scale: float, seed: int) -> pd.Series:
    """Independent per-query noise: makes a small mean difference non-significant."""
    return values + pd.Series(np.random.default_rng(seed).normal(0, scale, len(values)), index=values.index)


def wobble(values: pd.Series, scale: float) -> pd.Series:
    """``values`` +/- ``scale`` alternately: the mean is unchanged, the paired spread is large."""
    signs = np.where(np.arange(len(values)) % 2 == 0, 1.0, -1.0)
    return values + pd.Series(scale * signs, index=values.index)


def by_number(checks):
    return {c.number: c for c in checks}


def test_paired_test_matches_scipy_and_direction():
    from scipy import stats

    a, b = jitter(series(0.6), 0.1, 1), series(0.5)
    comparison = paired("x", a, b)
    assert comparison.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert comparison.in_direction and comparison.difference == pytest.approx(a.mean() - b.mean())
    faster = paired("lat", series(1.0), series(2.0), lower_is_better=True)
    assert faster.in_direction and faster.significant
    assert not paired("lat", series(2.0), series(1.0), lower_is_better=True).in_direction


def test_paired_test_uses_shared_queries_only():
    a = series(0.6)
    b = series(0.5).iloc[:10]
    assert paired("x", a, b).n == 10
    with pytest.raises(ValueError, match="at least two shared queries"):
        paired("x", a.iloc[:1], b)


@pytest.mark.parametrize("difference, expected", [
    (0.10, "holds"),
    (0.003, "holds in direction, not significant"),
    (-0.10, "does not hold"),
    (0.0, "does not hold"),  # a tie is not an improvement
])
def test_claim2_verdicts(difference, expected):
    per_query = {}
    for i, arch in enumerate(("bert_dot", "colbert")):
        base = jitter(series(0.5), 0.08, i)
        per_query[(arch, "baseline", "ranknet")] = base
        shift = base + difference
        per_query[(arch, "T1", "margin_mse")] = wobble(shift, 0.1) if 0 < difference < 0.01 else shift
    check = by_number(check_claims(per_query, archs=["bert_dot", "colbert"]))[2]
    assert check.verdict == expected
    if expected == "holds in direction, not significant":
        assert check.p_value >= ALPHA and f"p = {check.p_value:.3f}" in check.label


def test_one_student_against_the_claim_fails_it():
    per_query = {("a", "baseline", "ranknet"): series(0.5), ("a", "T1", "margin_mse"): series(0.7),
                 ("b", "baseline", "ranknet"): series(0.5), ("b", "T1", "margin_mse"): series(0.45)}
    check = by_number(check_claims(per_query, archs=["a", "b"]))[2]
    assert check.verdict == "does not hold" and "Against the claim: b" in check.evidence


@pytest.mark.parametrize("student, expected", [(0.7, "holds"), (0.3, "does not hold"), (0.5, "does not hold")])
def test_claim3_and_4(student, expected):
    per_query = {(a, t, "margin_mse"): series(0.5) for a in ("colbert", "prett", "bert_cat") for t in ("T1",)}
    per_query.update({(a, "T2", "margin_mse"): series(student) for a in ("colbert", "prett", "bert_cat")})
    per_query[OWN_TEACHER] = series(0.5)
    checks = by_number(check_claims(per_query, archs=["colbert", "prett", "bert_cat"]))
    assert checks[3].verdict == expected
    assert checks[4].verdict == expected
    assert "7B RepLLaMA" in checks[4].evidence


def test_claim3_on_trec_dl_19_checks_only_the_students_the_paper_reports_a_t2_gain_for():
    from kdlib.repro import paper

    # The quoted Figure 1: on TREC-DL'19 PreTT (.748 -> .737) and TK (.669 -> .666) lose with T2.
    archs = ["bert_cat", "bert_dot", "colbert", "prett", "tk"]
    assert paper.t2_beats_t1_on_dl19(archs) == ("bert_cat", "bert_dot", "colbert")
    per_query = {(a, "T1", "margin_mse"): series(0.5) for a in ("a", "b")}
    per_query.update({("a", "T2", "margin_mse"): series(0.7), ("b", "T2", "margin_mse"): series(0.3)})
    everyone = by_number(check_claims(per_query, archs=["a", "b"]))[3]
    assert everyone.verdict == "does not hold" and "Against the claim: b" in everyone.evidence
    scoped = by_number(check_claims(per_query, archs=["a", "b"], claim3_archs=("a",)))[3]
    assert scoped.verdict == "holds"
    assert "only for a (not b)" in scoped.evidence and "b:" not in scoped.evidence


def test_claim4_not_tested_without_own_teacher():
    per_query = {("colbert", "T2", "margin_mse"): series(0.7)}
    assert by_number(check_claims(per_query, archs=["colbert"]))[4].verdict == "not tested"


@pytest.mark.parametrize("latencies, expected", [
    ({"tk": 1.0, "bert_dot": 2.0, "colbert": 3.0}, "holds"),
    ({"tk": 5.0, "bert_dot": 2.0, "colbert": 3.0}, "does not hold"),
    ({"tk": 2.0, "bert_dot": 2.0, "colbert": 3.0}, "does not hold"),
])
def test_claim5_latency(latencies, expected):
    latency = {arch: series(ms, noise=0.1) for arch, ms in latencies.items()}
    check = by_number(check_claims({}, archs=list(latencies), latency_ms=latency))[5]
    assert check.verdict == expected


def test_claim5_close_latencies_are_noise():
    latency = {"tk": series(2.0), "bert_dot": wobble(series(2.01), 1.0)}
    assert by_number(check_claims({}, archs=["tk", "bert_dot"], latency_ms=latency))[5].verdict == \
        "holds in direction, not significant"


@pytest.mark.parametrize("rival, expected", [(0.4, "holds"), (0.6, "does not hold"), (0.5, "does not hold")])
def test_claim6_losses(rival, expected):
    per_query = {("bert_dot", "T2", "margin_mse"): series(0.5),
                 ("bert_dot", "T2", "pointwise_mse"): series(rival),
                 ("bert_dot", "T2", "weighted_ranknet"): series(0.3)}
    assert by_number(check_claims(per_query, archs=["bert_dot"]))[6].verdict == expected


@pytest.mark.parametrize("values, expected", [
    ((0.3, 0.4, 0.5), "holds"), ((0.3, 0.4, 0.35), "does not hold"), ((0.3, 0.4, 0.4), "does not hold")])
def test_claim7_dense(values, expected):
    dense = {t: series(v) for t, v in zip(("baseline", "T1", "T2"), values)}
    assert by_number(check_claims({}, archs=["bert_dot"], dense=dense))[7].verdict == expected
    del dense["T2"]
    assert by_number(check_claims({}, archs=["bert_dot"], dense=dense))[7].verdict == "not tested"


def test_missing_runs_are_not_tested():
    checks = by_number(check_claims({}, archs=["bert_dot"]))
    assert all(checks[n].verdict == "not tested" for n in range(1, 8))


def test_score_levels_rule():
    differ = pd.DataFrame({"arch": ["colbert", "bert_cat"], "mean_pos": [148.0, 8.0], "mean_neg": [135.0, -5.0]})
    assert score_levels(differ).verdict == "holds"
    same = pd.DataFrame({"arch": ["colbert", "bert_cat"], "mean_pos": [9.0, 8.0], "mean_neg": [-4.0, -5.0]})
    assert score_levels(same).verdict == "does not hold"
    unequal_margins = pd.DataFrame({"arch": ["a", "b"], "mean_pos": [100.0, 8.0], "mean_neg": [99.0, -5.0]})
    assert score_levels(unequal_margins).verdict == "does not hold"
    # On the boundary of the margin rule (largest == 3 x smallest) the margins still count as similar.
    boundary = pd.DataFrame({"arch": ["a", "b"], "mean_pos": [103.0, 1.0], "mean_neg": [100.0, 0.0]})
    assert score_levels(boundary).verdict == "holds"


def test_verdict_of_reports_the_weakest_link():
    strong, weak = paired("s", series(0.9), series(0.5)), paired("w", wobble(series(0.505), 0.1), series(0.5))
    check = verdict_of(2, [strong, weak])
    assert check.p_value == pytest.approx(max(strong.p_value, weak.p_value))


def test_claims_csv(tmp_path):
    checks = check_claims({("a", "baseline", "ranknet"): series(0.5), ("a", "T1", "margin_mse"): series(0.7)},
                          archs=["a"])
    path = tmp_path / "claims.csv"
    write_claims_csv(checks, path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["number", "verdict", "p_value", "queries_needed", "evidence"]
    assert frame.set_index("number").loc[2, "verdict"] == "holds"


def test_queries_needed_matches_the_power_of_a_paired_t_test():
    """The returned n gives >= 80% power (non-central t) and n - 1 gives less."""
    from scipy import stats

    def power(n: int, d: float, sd: float) -> float:
        df, shift = n - 1, d / sd * np.sqrt(n)
        crit = stats.t.ppf(1 - ALPHA / 2, df)
        return float(stats.nct.sf(crit, df, shift) + stats.nct.cdf(-crit, df, shift))

    for d, sd in ((0.01, 0.1), (0.05, 0.12), (0.2, 0.3)):
        n = queries_needed(d, sd)
        assert power(n, d, sd) >= 0.79 and power(n - 1, d, sd) < 0.81
    # The textbook figure: effect size 0.5 needs 34 pairs at alpha .05, power .8.
    assert queries_needed(0.5, 1.0) == 34
    assert queries_needed(0.0, 0.1) is None and queries_needed(-0.1, 0.1) is None
    assert queries_needed(0.1, float("nan")) is None


def test_not_significant_claims_carry_the_queries_they_would_need():
    weak = paired("w", jitter(series(0.505), 0.1, 3), series(0.5))
    assert not weak.significant and weak.queries_needed and weak.queries_needed > len(QIDS)
    assert f"~{weak.queries_needed} queries needed" in weak.describe()
    check = verdict_of(3, [weak])
    assert check.verdict == "holds in direction, not significant"
    assert check.queries_needed == weak.queries_needed and str(weak.queries_needed) in check.evidence
    strong = verdict_of(3, [paired("s", series(0.9), series(0.5))])
    assert strong.verdict == "holds" and strong.queries_needed is None
