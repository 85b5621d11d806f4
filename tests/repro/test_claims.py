"""The claim checker: our effect against the paper's, verdicts in the documented order, missing
runs 'not tested', and claims.csv.

Per-query values are hand-made so that the paired test and the CI are easy to reason about:
:func:`shifted` gives two systems whose per-query differences are exactly ``d +/- s``
alternately, so the mean difference is ``d``, the standard deviation about ``s`` and the 95% CI
``d +/- 0.324 s`` over 40 queries. Every test asserts the premise it builds on (significance,
CI containing or excluding the paper's effect) before the verdict, so that a broken helper
cannot make a test pass.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kdlib.repro import paper
from kdlib.repro.claims import (
    ALPHA,
    CSV_COLUMNS,
    OWN_TEACHER,
    T1_TEACHER,
    Scale,
    Verdict,
    aggregate,
    check_claims,
    claims_table,
    notes_for,
    paired,
    queries_needed,
    score_levels,
    verdict_counts,
    verdict_of,
    weakest,
    write_claims_csv,
)

QIDS = [str(q) for q in range(40)]
RNG = np.random.default_rng(0)
NOISE = pd.Series(RNG.normal(0, 0.05, len(QIDS)), index=QIDS)
R, C, N, NT = Verdict.REPRODUCED, Verdict.CONSISTENT, Verdict.NOT_REPRODUCED, Verdict.NOT_TESTED
# The paper's quoted Figure 1 effects the tests lean on (asserted in test_paper_effects).
COLBERT_T1_DL19 = 0.016  # .722 -> .738 nDCG@10
COLBERT_T1_DEV = 0.013   # .357 -> .370 MRR@10


def series(mean: float, noise: float = 1.0) -> pd.Series:
    """Per-query values around ``mean``; every series shares the same noise pattern (scaled), so
    the difference of two is the same on every query (sd 0: p = 0, or p = 1 for a tie)."""
    return pd.Series(mean, index=QIDS) + noise * NOISE


def jitter(values: pd.Series, scale: float, seed: int) -> pd.Series:
    """Independent per-query noise: makes a small mean difference non-significant."""
    return values + pd.Series(np.random.default_rng(seed).normal(0, scale, len(values)), index=values.index)


def wobble(values: pd.Series, scale: float) -> pd.Series:
    """``values`` +/- ``scale`` alternately: the mean is unchanged, the paired spread is large."""
    signs = np.where(np.arange(len(values)) % 2 == 0, 1.0, -1.0)
    return values + pd.Series(scale * signs, index=values.index)


def shifted(d: float, s: float, base: float = 0.5) -> tuple[pd.Series, pd.Series]:
    """``(better, worse)`` whose per-query differences are ``d + s`` and ``d - s`` alternately."""
    worse = series(base)
    return wobble(worse + d, s), worse


def by_number(checks):
    return {c.number: c for c in checks}


# -- the paper's effects ---------------------------------------------------------------------


def test_paper_effects_are_differences_of_the_quoted_figures():
    colbert = (("colbert", "T1", "margin_mse"), ("colbert", "baseline", "ranknet"))
    assert paper.rerank_effect(*colbert) == pytest.approx(COLBERT_T1_DL19)
    assert paper.rerank_effect(*colbert, measure="RR@10") == pytest.approx(COLBERT_T1_DEV)
    # PreTT loses with T2 on TREC-DL'19 (.748 -> .737) and gains on MSMARCO-DEV (.378 -> .386).
    prett = (("prett", "T2", "margin_mse"), ("prett", "T1", "margin_mse"))
    assert paper.rerank_effect(*prett) == pytest.approx(-0.011)
    assert paper.rerank_effect(*prett, measure="RR@10") == pytest.approx(0.008)
    # No quoted figure: our own teacher, a loss the paper reports no student of, a measure it does not quote.
    assert paper.rerank_effect(("colbert", "T2", "margin_mse"), OWN_TEACHER) is None
    assert paper.rerank_effect(("colbert", "T2", "pointwise_mse"), ("colbert", "T2", "margin_mse")) is None
    assert paper.rerank_effect(*colbert, measure="R@1000") is None
    # Dense retrieval: the paper's DistilBERT_DOT (none .626 -> T1 .687 -> T2 .697 on TREC-DL'19).
    assert paper.dense_effect("T1", "baseline") == pytest.approx(0.061)
    assert paper.dense_effect("T2", "T1") == pytest.approx(0.010)
    assert paper.dense_effect("T2", "T1", "RR@10") == pytest.approx(0.002)
    assert paper.dense_effect("T2", "T1", arch="tk") is None


# -- one comparison ----------------------------------------------------------------------------


def test_paired_test_matches_scipy_and_direction():
    from scipy import stats

    a, b = jitter(series(0.6), 0.1, 1), series(0.5)
    comparison = paired("x", a, b)
    assert comparison.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert comparison.in_direction and comparison.difference == pytest.approx(a.mean() - b.mean())
    half = stats.t.ppf(0.975, len(QIDS) - 1) * (a - b).std(ddof=1) / math.sqrt(len(QIDS))
    assert (comparison.ci_low, comparison.ci_high) == pytest.approx(((a - b).mean() - half, (a - b).mean() + half))
    faster = paired("lat", series(1.0), series(2.0), lower_is_better=True)
    assert faster.in_direction and faster.significant
    assert not paired("lat", series(2.0), series(1.0), lower_is_better=True).in_direction


def test_latency_ci_is_oriented_the_claimed_way():
    """For lower-is-better comparisons the CI is of ``worse - better``: positive when faster."""
    fast, slow = wobble(series(1.0), 0.2), series(2.0)
    comparison = paired("lat", fast, slow, lower_is_better=True)
    assert comparison.difference == pytest.approx(1.0)
    assert 0 < comparison.ci_low < comparison.difference < comparison.ci_high


def test_paired_test_uses_shared_queries_only():
    a = series(0.6)
    b = series(0.5).iloc[:10]
    assert paired("x", a, b).n == 10
    with pytest.raises(ValueError, match="at least two shared queries"):
        paired("x", a.iloc[:1], b)


@pytest.mark.parametrize("d, s, paper_effect, significant, contains, expected", [
    # reproduced: the paper's direction with p < .05, checked first: the CI may even exclude the
    # paper's effect (ours larger), or contain it.
    (0.10, 0.01, 0.016, True, False, R),
    (0.016, 0.01, 0.016, True, True, R),
    (0.002, 0.002, 0.016, True, False, R),  # far smaller than the paper's, yet significant its way
    # consistent: the CI contains the paper's effect but p >= .05 ...
    (0.005, 0.10, 0.016, False, True, C),
    # ... or our effect goes the other way, not significantly, and the CI still contains it.
    (-0.005, 0.10, 0.016, False, True, C),
    # not reproduced: the CI excludes the paper's effect and ours is not significant its way.
    (0.0, 0.01, 0.016, False, False, N),
    (0.001, 0.004, 0.016, False, False, N),
    # not reproduced: significant, against the paper's direction.
    (-0.05, 0.01, 0.016, True, False, N),
    # The paper's direction, not the claim's, counts: where the paper's own figures go against
    # the claim (PreTT's T2 on TREC-DL'19), a significant gain is not the paper's effect.
    (0.10, 0.01, -0.011, True, False, N),
    (-0.011, 0.01, -0.011, True, True, R),
    # A paper effect of exactly 0 has no direction: consistent at best.
    (0.10, 0.01, 0.0, True, False, N),
    (0.001, 0.05, 0.0, False, True, C),
])
def test_comparison_verdict_against_the_papers_effect(d, s, paper_effect, significant, contains, expected):
    better, worse = shifted(d, s)
    comparison = paired("x", better, worse, paper_effect=paper_effect)
    assert comparison.difference == pytest.approx(d)
    assert (comparison.p_value < ALPHA) is significant
    assert (comparison.ci_low <= paper_effect <= comparison.ci_high) is contains
    assert comparison.verdict is expected


@pytest.mark.parametrize("d, s, expected", [
    (0.05, 0.01, R),    # significant the claimed way
    (-0.05, 0.01, N),   # significant the other way
    (0.005, 0.10, C),   # noise: the CI contains 0
    (-0.005, 0.10, C),
    (0.0, 0.0, C),      # a tie: nothing against the claim, nothing for it
])
def test_comparison_verdict_without_a_paper_effect_tests_the_direction_only(d, s, expected):
    better, worse = shifted(d, s)
    comparison = paired("x", better, worse)
    assert comparison.paper_effect is None
    assert comparison.verdict is expected
    if expected is C:
        assert comparison.p_value >= ALPHA and comparison.ci_low <= 0 <= comparison.ci_high


# -- a claim: aggregation over comparisons ------------------------------------------------------


@pytest.mark.parametrize("verdicts, expected", [
    ([R, R, R], R), ([R, C, R], C), ([C, C], C), ([R, C, N], N), ([N], N), ([], NT)])
def test_aggregate(verdicts, expected):
    assert aggregate(verdicts) is expected


def test_claim_reports_its_weakest_comparison():
    strong = paired("strong", *shifted(0.10, 0.01), paper_effect=0.016)
    weak_r = paired("weak", *shifted(0.02, 0.01), paper_effect=0.016)
    noise = paired("noise", *shifted(0.005, 0.10), paper_effect=0.016)
    assert (strong.verdict, weak_r.verdict, noise.verdict) == (R, R, C)
    held = verdict_of(2, [strong, weak_r], measure="nDCG@10")
    assert held.verdict is R and held.weakest is weak_r and held.queries_needed is None
    assert (held.ours, held.ci_low, held.ci_high, held.paper_effect, held.p_value) == \
        (weak_r.difference, weak_r.ci_low, weak_r.ci_high, 0.016, weak_r.p_value)
    mixed = verdict_of(2, [strong, noise, weak_r], measure="nDCG@10")
    assert mixed.verdict is C and mixed.weakest is noise
    assert mixed.queries_needed == noise.queries_needed and mixed.queries_needed > len(QIDS)
    against = paired("against", *shifted(-0.05, 0.01), paper_effect=0.016)
    failed = verdict_of(2, [strong, noise, against])
    assert failed.verdict is N and failed.weakest is against and failed.queries_needed is None
    assert "against: " in failed.evidence and "not reproduced" in failed.evidence
    # Same verdict: the smallest effect in the claimed direction decides.
    assert weakest([paired("a", *shifted(-0.01, 0.002)), paired("b", *shifted(-0.05, 0.01))]).label == "b"


def test_evidence_states_the_rule_and_where_the_papers_effects_come_from():
    quoted = verdict_of(2, [paired("x", *shifted(0.05, 0.01), paper_effect=0.013)], measure="RR@10")
    assert "MSMARCO-DEV MRR@10" in quoted.evidence and "95% CI contains the paper's effect" in quoted.evidence
    assert "paper +0.013" in quoted.evidence
    unknown = verdict_of(6, [paired("x", *shifted(0.05, 0.01))], measure="nDCG@10")
    assert "quotes no number" in unknown.evidence and "direction only" in unknown.evidence


@pytest.mark.parametrize("d, s, expected", [(0.10, 0.01, R), (0.005, 0.10, C), (0.0, 0.01, N), (-0.10, 0.01, N)])
def test_claim2_against_figure_1(d, s, expected):
    per_query = {("colbert", "baseline", "ranknet"): series(0.5)}
    per_query[("colbert", "T1", "margin_mse")] = shifted(d, s)[0]
    check = by_number(check_claims(per_query, archs=["colbert"], test_set="trec-dl-2019"))[2]
    assert check.verdict is expected
    assert check.paper_effect == pytest.approx(COLBERT_T1_DL19) and check.ours == pytest.approx(d)
    assert check.test_set == "trec-dl-2019" and check.measure == "nDCG@10"
    if expected is C:
        assert check.p_value >= ALPHA and f"p = {check.p_value:.3f}" in check.label
        assert check.queries_needed and str(check.queries_needed) in check.evidence


def test_claim2_on_the_dev_sample_uses_the_papers_msmarco_dev_effect():
    # Ours +0.004, 95% CI about [-0.006, +0.014], not significant: it contains the paper's MSMARCO-DEV
    # effect (.013) but not its TREC-DL'19 one (.016), so the measure decides which the verdict reads.
    per_query = {("colbert", "baseline", "ranknet"): series(0.3),
                 ("colbert", "T1", "margin_mse"): shifted(0.004, 0.03, 0.3)[0]}
    dev = by_number(check_claims(per_query, archs=["colbert"], measure="RR@10", test_set="msmarco-dev-sample"))[2]
    dl19 = by_number(check_claims(per_query, archs=["colbert"], measure="nDCG@10"))[2]
    assert dev.paper_effect == pytest.approx(COLBERT_T1_DEV) and dl19.paper_effect == pytest.approx(COLBERT_T1_DL19)
    assert dev.ci_low <= COLBERT_T1_DEV <= dev.ci_high < COLBERT_T1_DL19
    assert dev.verdict is C and dl19.verdict is N


def test_one_student_against_the_claim_fails_it():
    per_query = {("a", "baseline", "ranknet"): series(0.5), ("a", "T1", "margin_mse"): series(0.7),
                 ("b", "baseline", "ranknet"): series(0.5), ("b", "T1", "margin_mse"): series(0.45)}
    check = by_number(check_claims(per_query, archs=["a", "b"]))[2]
    assert check.verdict is N and check.weakest.label == "b"
    assert check.ours == pytest.approx(-0.05) and check.paper_effect is None


@pytest.mark.parametrize("student, expected", [(0.7, R), (0.3, N), (0.5, C)])
def test_claim3_and_4(student, expected):
    archs = ["colbert", "prett", "bert_cat"]
    per_query = {(a, "T1", "margin_mse"): series(0.5) for a in archs}
    per_query.update({(a, "T2", "margin_mse"): series(student) for a in archs})
    per_query[OWN_TEACHER] = series(0.5)
    # Claim 3 on the dev sample: all students, against the paper's MSMARCO-DEV effects (all positive).
    checks = by_number(check_claims(per_query, archs=archs, measure="RR@10"))
    claim3, claim4 = checks[3], checks[4]
    assert all(c.paper_effect and c.paper_effect > 0 for c in claim3.comparisons) and len(claim3.comparisons) == 3
    # A tie: the CI [0, 0] excludes the paper's effect (not reproduced); claim 4 has no paper
    # effect (our own teacher), so a tie is consistent with its direction.
    assert claim3.verdict is (N if student == 0.5 else expected)
    assert claim4.verdict is expected and all(c.paper_effect is None for c in claim4.comparisons)
    assert "own BERT_CAT teacher" in claim4.evidence and "only the direction" in claim4.evidence


def test_claim4_without_our_own_teacher_compares_with_t1_beside_the_papers_effect():
    archs = ["colbert", "prett", "bert_cat"]
    per_query = {(a, "T2", "margin_mse"): series(0.8) for a in archs}
    per_query[T1_TEACHER] = series(0.5)
    claim4 = by_number(check_claims(per_query, archs=archs))[4]
    assert claim4.verdict is R and "T1 itself" in claim4.evidence
    # The paper's effect over its T1 (BERT-Base_CAT .730 on TREC-DL'19): ColBERT T2 .744.
    colbert = next(c for c in claim4.comparisons if c.label.startswith("colbert"))
    assert colbert.paper_effect == pytest.approx(0.744 - 0.730)


def test_claim2_compares_on_the_baselines_queries_where_given():
    archs = ["bert_dot"]
    per_query = {("bert_dot", "T1", "margin_mse"): series(0.9), ("bert_dot", "baseline", "ranknet"): series(0.5)}
    same = by_number(check_claims(per_query, archs=archs, same_query_t1={"bert_dot": series(0.3)},
                                  same_query_count=107))[2]
    assert same.verdict is N and "107 judged queries" in same.evidence
    assert by_number(check_claims(per_query, archs=archs))[2].verdict is R


def test_claim3_on_trec_dl_19_checks_only_the_students_the_paper_reports_a_t2_gain_for():
    # The quoted Figure 1: on TREC-DL'19 PreTT (.748 -> .737) and TK (.669 -> .666) lose with T2.
    archs = ["bert_cat", "bert_dot", "colbert", "prett", "tk"]
    assert paper.t2_beats_t1_on_dl19(archs) == ("bert_cat", "bert_dot", "colbert")
    per_query = {(a, "T1", "margin_mse"): series(0.5) for a in ("a", "b")}
    per_query.update({("a", "T2", "margin_mse"): series(0.7), ("b", "T2", "margin_mse"): series(0.3)})
    everyone = by_number(check_claims(per_query, archs=["a", "b"]))[3]
    assert everyone.verdict is N and everyone.weakest.label == "b"
    scoped = by_number(check_claims(per_query, archs=["a", "b"], claim3_archs=("a",)))[3]
    assert scoped.verdict is R
    assert "only for a (not b)" in scoped.evidence and "b:" not in scoped.evidence


@pytest.mark.parametrize("latencies, expected", [
    ({"tk": 1.0, "bert_dot": 2.0, "colbert": 3.0}, R),
    ({"tk": 5.0, "bert_dot": 2.0, "colbert": 3.0}, N),
    ({"tk": 2.0, "bert_dot": 2.0, "colbert": 3.0}, C),  # a tie: no paper effect, direction only
])
def test_claim5_latency(latencies, expected):
    latency = {arch: series(ms, noise=0.1) for arch, ms in latencies.items()}
    check = by_number(check_claims({}, archs=list(latencies), latency_ms=latency))[5]
    assert check.verdict is expected and check.measure == "ms" and check.paper_effect is None


def test_claim5_close_latencies_are_noise():
    latency = {"tk": series(2.0), "bert_dot": wobble(series(2.01), 1.0)}
    check = by_number(check_claims({}, archs=["tk", "bert_dot"], latency_ms=latency))[5]
    assert check.verdict is C and check.queries_needed and check.queries_needed > len(QIDS)


PAPER_SIZE_QIDS = ["q1", "q2", "q3"]


def timed(*ms: float) -> pd.Series:
    """Per-query latencies of the three queries timed at the paper's size."""
    return pd.Series(ms, index=PAPER_SIZE_QIDS, dtype=float)


#: The paper's order at the paper's size: every step 10 +/- 1 ms apart on each query (p < .01).
PAPER_ORDER_MS = {"tk": timed(10, 11, 12), "bert_dot": timed(20, 22, 21), "colbert": timed(30, 33, 31)}
#: The same latencies with tk the slowest: two of the order's steps fail significantly.
TK_LAST_MS = {"tk": timed(40, 43, 42), "bert_dot": timed(20, 22, 21), "colbert": timed(30, 33, 31)}


@pytest.mark.parametrize("paper_size, students, expected", [
    (PAPER_ORDER_MS, {"tk": series(5.0), "bert_dot": series(2.0), "colbert": series(3.0)}, R),
    (TK_LAST_MS, {"tk": series(1.0), "bert_dot": series(2.0), "colbert": series(3.0)}, N),
    (PAPER_ORDER_MS, None, R),
])
def test_claim5_is_decided_at_the_paper_size_when_measured(paper_size, students, expected):
    archs = ["tk", "bert_dot", "colbert"]
    # Premise: the students alone would give the opposite verdict (the case with students).
    if students is not None:
        alone = by_number(check_claims({}, archs=archs, latency_ms=students))[5]
        assert alone.verdict is ({R: N, N: R}[expected])
    check = by_number(check_claims({}, archs=archs, latency_ms=students, paper_size_latency_ms=paper_size,
                                   paper_size_encoder="random:6:768"))[5]
    assert check.verdict is expected and check.measure == "ms" and check.paper_effect is None
    assert all(c.n == len(PAPER_SIZE_QIDS) for c in check.comparisons)  # paired over the paper-size queries
    assert "Decided at the paper's model size" in check.evidence and "from random:6:768" in check.evidence
    tk_ms = float(paper_size["tk"].median())
    assert f"tk ({tk_ms:.1f} ms)" in check.evidence
    if students is None:
        assert "students at their own size" not in check.evidence
    else:  # the students' own order is reported beside it, not tested
        held = 1 if expected is R else 2
        assert "students at their own size, " in check.evidence
        assert f"{held} of 2 steps of the paper's order hold by median" in check.evidence
        assert f"tk ({float(students['tk'].median()):.1f} ms)" in check.evidence


def test_claim5_without_a_paper_size_measurement_is_decided_on_the_students():
    students = {"tk": series(1.0), "bert_dot": series(2.0)}
    check = by_number(check_claims({}, archs=["tk", "bert_dot"], latency_ms=students, paper_size_latency_ms=None))[5]
    assert check.verdict is R and "paper's model size" not in check.evidence
    assert "Median query latency, ours: tk" in check.evidence
    assert all(c.n == len(QIDS) for c in check.comparisons)


def test_claim5_note_follows_where_the_verdict_was_taken():
    failed = verdict_of(5, [paired("x", *shifted(-0.05, 0.01))], test_set="a")
    students = Scale(train_queries=54, test_queries=43, student_steps=256, own_teacher_queries=54,
                     own_teacher_steps=100, latency_depth=100)
    paper_size = Scale(train_queries=54, test_queries=43, student_steps=256, own_teacher_queries=54,
                       own_teacher_steps=100, latency_depth=100, latency_paper_encoder="random:6:768",
                       latency_paper_queries=3, latency_paper_depth=20)
    on_students = notes_for([failed], {"a": students})[(5, "a")]
    at_paper_size = notes_for([failed], {"a": paper_size})[(5, "a")]
    assert "re-ranking 100 candidates with the students' small encoder" in on_students
    assert "paper's model size (random:6:768" in at_paper_size and "3 queries x 20 candidates" in at_paper_size
    assert "{" not in on_students + at_paper_size


@pytest.mark.parametrize("rival, expected", [(0.4, R), (0.6, N), (0.5, C)])
def test_claim6_losses(rival, expected):
    per_query = {("bert_dot", "T2", "margin_mse"): series(0.5),
                 ("bert_dot", "T2", "pointwise_mse"): series(rival),
                 ("bert_dot", "T2", "weighted_ranknet"): series(0.3)}
    check = by_number(check_claims(per_query, archs=["bert_dot"]))[6]
    assert check.verdict is expected and check.paper_effect is None


@pytest.mark.parametrize("values, expected", [((0.3, 0.4, 0.5), R), ((0.3, 0.4, 0.35), N), ((0.3, 0.4, 0.4), N)])
def test_claim7_dense(values, expected):
    dense = {t: series(v) for t, v in zip(("baseline", "T1", "T2"), values)}
    check = by_number(check_claims({}, archs=["bert_dot"], dense=dense))[7]
    assert check.verdict is expected
    assert [c.paper_effect for c in check.comparisons] == pytest.approx([0.061, 0.010])
    del dense["T2"]
    assert by_number(check_claims({}, archs=["bert_dot"], dense=dense))[7].verdict is NT


def test_claim7_consistent_with_a_small_paper_effect():
    dense = {"baseline": series(0.3), "T1": series(0.4)}
    dense["T2"] = wobble(dense["T1"] + 0.005, 0.1)
    check = by_number(check_claims({}, archs=["bert_dot"], dense=dense))[7]
    assert check.verdict is C and check.weakest.label == "dense T1 -> T2"
    assert check.ci_low <= check.paper_effect <= check.ci_high


# -- not tested ---------------------------------------------------------------------------------


def test_missing_runs_are_not_tested():
    checks = by_number(check_claims({}, archs=["bert_dot"]))
    assert all(checks[n].verdict is NT for n in range(1, 8))
    assert all(checks[n].ours is None and checks[n].p_value is None for n in range(1, 8))


def test_on_a_further_test_set_what_is_measured_on_data_test_only_is_not_tested():
    per_query = {(a, t, "margin_mse"): series(0.5) for a in ("colbert",) for t in ("T1", "T2")}
    per_query[("colbert", "baseline", "ranknet")] = series(0.4)
    checks = by_number(check_claims(per_query, archs=["colbert"], measure="RR@10", test_set="msmarco-dev-sample",
                                    primary_test_set="trec-dl-2019"))
    for number in (1, 4, 5, 7):
        assert checks[number].verdict is NT, number
        assert "data.test only (trec-dl-2019)" in checks[number].evidence
    assert "teacher runs" in checks[4].evidence
    assert checks[2].verdict is R and checks[2].test_set == "msmarco-dev-sample"


def test_score_levels_rule():
    differ = pd.DataFrame({"arch": ["colbert", "bert_cat"], "mean_pos": [148.0, 8.0], "mean_neg": [135.0, -5.0]})
    assert score_levels(differ).verdict is R
    same = pd.DataFrame({"arch": ["colbert", "bert_cat"], "mean_pos": [9.0, 8.0], "mean_neg": [-4.0, -5.0]})
    assert score_levels(same).verdict is N
    unequal_margins = pd.DataFrame({"arch": ["a", "b"], "mean_pos": [100.0, 8.0], "mean_neg": [99.0, -5.0]})
    assert score_levels(unequal_margins).verdict is N
    # On the boundary of the margin rule (largest == 3 x smallest) the margins still count as similar.
    boundary = pd.DataFrame({"arch": ["a", "b"], "mean_pos": [103.0, 1.0], "mean_neg": [100.0, 0.0]})
    assert score_levels(boundary).verdict is R
    assert score_levels(boundary).ours is None  # descriptive: no effect, no CI


def test_verdict_values_are_what_the_book_prints():
    assert [v.value for v in Verdict] == ["reproduced", "consistent", "not reproduced", "not tested"]
    assert f"{Verdict.NOT_REPRODUCED}" == "not reproduced"


# -- claims.csv, counts, notes ------------------------------------------------------------------


def test_claims_csv(tmp_path):
    per_query = {("colbert", "baseline", "ranknet"): series(0.5), ("colbert", "T1", "margin_mse"): series(0.7)}
    checks = (check_claims(per_query, archs=["colbert"], test_set="trec-dl-2019", primary_test_set="trec-dl-2019")
              + check_claims(per_query, archs=["colbert"], measure="RR@10", test_set="msmarco-dev-sample",
                             primary_test_set="trec-dl-2019"))
    path = tmp_path / "claims.csv"
    write_claims_csv(checks, path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(CSV_COLUMNS) == [
        "number", "test_set", "measure", "verdict", "ours", "ci_low", "ci_high", "paper_effect", "p_value",
        "queries_needed", "evidence"]
    assert len(frame) == 14 and set(frame.groupby("test_set").size()) == {7}
    row = frame.set_index(["number", "test_set"]).loc[(2, "trec-dl-2019")]
    assert row["verdict"] == "reproduced" and row["measure"] == "nDCG@10"
    assert row["ours"] == pytest.approx(0.2) and row["ci_low"] == pytest.approx(0.2) == pytest.approx(row["ci_high"])
    assert row["paper_effect"] == pytest.approx(COLBERT_T1_DL19)
    dev = frame.set_index(["number", "test_set"]).loc[(2, "msmarco-dev-sample")]
    assert dev["paper_effect"] == pytest.approx(COLBERT_T1_DEV) and dev["measure"] == "RR@10"
    untested = frame.set_index(["number", "test_set"]).loc[(7, "msmarco-dev-sample")]
    assert untested["verdict"] == "not tested" and pd.isna(untested["ours"]) and pd.isna(untested["paper_effect"])
    assert claims_table(checks)["queries_needed"].dtype == "Int64"


def test_verdict_counts_by_test_set():
    per_query = {("colbert", "baseline", "ranknet"): series(0.5), ("colbert", "T1", "margin_mse"): series(0.7)}
    checks = (check_claims(per_query, archs=["colbert"], test_set="x")
              + check_claims({}, archs=["colbert"], test_set="y"))
    assert verdict_counts(checks, "x") == {R: 1, C: 0, N: 0, NT: 6}
    assert verdict_counts(checks, "y")[NT] == 7 and sum(verdict_counts(checks).values()) == 14


def test_every_claim_not_reproduced_gets_a_note():
    failed = verdict_of(2, [paired("x", *shifted(-0.05, 0.01))], test_set="a")
    unsure = verdict_of(6, [paired("x", *shifted(0.005, 0.1))], test_set="b")
    held = verdict_of(3, [paired("x", *shifted(0.05, 0.01))], test_set="a")
    untested = verdict_of(4, [], test_set="a")
    scales = {name: Scale(train_queries=54, test_queries=q, student_steps=256, own_teacher_queries=54,
                          own_teacher_steps=100) for name, q in (("a", 43), ("b", 99))}
    notes = notes_for([failed, unsure, held, untested], scales)
    assert set(notes) == {(2, "a"), (6, "b")}
    assert "43 test queries" in notes[(2, "a")] and "99 test queries" in notes[(6, "b")]


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


def test_consistent_comparisons_carry_the_queries_they_would_need():
    weak = paired("w", jitter(series(0.505), 0.1, 3), series(0.5), paper_effect=0.016)
    assert weak.verdict is C and weak.queries_needed and weak.queries_needed > len(QIDS)
    assert f"~{weak.queries_needed} queries needed" in weak.describe()
    check = verdict_of(3, [weak])
    assert check.verdict is C
    assert check.queries_needed == weak.queries_needed and str(weak.queries_needed) in check.evidence
    strong = verdict_of(3, [paired("s", series(0.9), series(0.5), paper_effect=0.4)])
    assert strong.verdict is R and strong.queries_needed is None
