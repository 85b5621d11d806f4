"""The one paired test over queries, its effect size and confidence interval, and how many
queries a test would need.

Every comparison kdlib reports (a student against BM25, T2 against T1, a claim of the paper)
pairs two systems' per-query values on the same queries and goes through
:func:`paired_test`: the paired t-test (``scipy.stats.ttest_rel``) or the Wilcoxon
signed-rank test (``scipy.stats.wilcoxon``), as ``eval.significance`` chooses, with a
t-based confidence interval of the mean difference.
"""
from __future__ import annotations

import math
from typing import Literal, NamedTuple, Sequence

Test = Literal["ttest", "wilcoxon"]
#: The tests :func:`paired_test` runs.
TESTS: tuple[str, ...] = ("ttest", "wilcoxon")
#: Differences smaller than this count as none (floating-point noise of equal runs).
TIE = 1e-12


class PairedComparison(NamedTuple):
    """``b`` against ``a`` over the same queries: ``difference = mean_b - mean_a``."""

    test: str
    mean_a: float
    mean_b: float
    difference: float
    statistic: float
    p_value: float
    n: int
    #: Standard deviation of the per-query differences (ddof 1).
    sd_difference: float
    #: Confidence interval of the mean difference (t distribution, ``confidence`` level).
    ci_low: float
    ci_high: float


def paired_test(a: Sequence[float], b: Sequence[float], test: Test = "ttest", *,
                confidence: float = 0.95) -> PairedComparison:
    """Paired two-sided test of ``b`` against ``a`` (values of the same queries, in the same order).

    Identical values give statistic 0 and p = 1, and the same non-zero difference on every
    query p = 0 (the tests are undefined for both: there is no noise).

    Raises:
        ValueError: an unknown test, different lengths, or fewer than two queries.
    """
    from scipy import stats

    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    xs, ys = [float(x) for x in a], [float(y) for y in b]
    if len(xs) != len(ys):
        raise ValueError(f"a paired test needs values of the same queries, got {len(xs)} and {len(ys)}")
    n = len(xs)
    if n < 2:
        raise ValueError(f"a paired test needs at least two queries, got {n}")
    differences = [y - x for x, y in zip(xs, ys)]
    mean_a, mean_b = sum(xs) / n, sum(ys) / n
    mean_d = sum(differences) / n
    sd = math.sqrt(sum((d - mean_d) ** 2 for d in differences) / (n - 1))
    if all(abs(d) < TIE for d in differences):
        statistic, p_value = 0.0, 1.0
    elif sd < TIE:
        statistic, p_value = math.copysign(math.inf, mean_d), 0.0
    elif test == "ttest":
        result = stats.ttest_rel(ys, xs)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        result = stats.wilcoxon(ys, xs)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return PairedComparison(test, mean_a, mean_b, mean_b - mean_a, statistic, p_value, n, sd,
                            mean_d - half, mean_d + half)


def queries_needed(difference: float, sd: float, *, alpha: float = 0.05, power: float = 0.8,
                   max_queries: int = 1_000_000) -> int | None:
    """Queries a two-sided paired t-test needs to detect a mean difference ``difference`` with
    per-query standard deviation ``sd``, at level ``alpha`` with probability ``power``.

    Solves ``n = ((t_{1-alpha/2, n-1} + t_{power, n-1}) * sd / difference)^2`` by fixed-point
    iteration from the normal approximation (the usual sample-size formula for a paired
    design). The observed difference stands in for the true one, so the figure is a planning
    estimate ("if the effect is what we saw"), not evidence that the effect exists.

    Returns:
        The smallest such ``n`` (at least 2), or ``None`` when ``difference`` is not positive or
        ``sd`` is unknown.
    """
    from scipy import stats

    if not difference > 0 or not math.isfinite(sd):
        return None
    if sd <= 0:
        return 2
    n = max(2.0, ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * sd / difference) ** 2)
    for _ in range(50):
        if n > max_queries:
            return max_queries
        df = max(1.0, n - 1)
        updated = max(2.0, ((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * sd / difference) ** 2)
        if abs(updated - n) < 0.01:
            break
        n = updated
    return int(math.ceil(n))
