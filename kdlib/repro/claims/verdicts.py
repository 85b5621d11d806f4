"""Verdicts on the paper's claims: the comparisons behind them and the rule that aggregates them.

Every check takes measured results (never the paper's numbers), states the rule it applies in
its evidence string, and gives one :class:`Verdict`:

- ``holds``: every comparison the claim makes goes the claimed way, and each is significant
  (paired test over the test queries, two-sided, ``p < ALPHA``);
- ``holds in direction, not significant``: every comparison goes the claimed way, but at least
  one could be noise (its p-value is reported);
- ``does not hold``: at least one comparison goes the other way (a tie counts against it);
- ``not tested``: the runs a claim needs are missing; never reported as holding.

A difference of .01 nDCG@10 is rarely significant over a few dozen queries: every comparison
also reports how many test queries a paired t-test would need to detect its observed
difference with 80% power (:func:`kdlib.eval.significance.queries_needed`), a planning figure
that tells a reader whether "not significant" means "no effect" or "too few queries to tell".
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from kdlib.eval.significance import Test, paired_test, queries_needed
from kdlib.repro import paper

#: Significance level of every paired test.
ALPHA = 0.05
#: Power for :func:`queries_needed`: the chance of detecting a true difference of the observed size.
POWER = 0.8


class Verdict(str, enum.Enum):
    """What our runs say about a claim (module docstring); its value is what the book prints."""

    HOLDS = "holds"
    IN_DIRECTION = "holds in direction, not significant"
    DOES_NOT_HOLD = "does not hold"
    NOT_TESTED = "not tested"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: is ``better`` above ``worse`` (or below, for latency)?"""

    label: str
    better: float
    worse: float
    p_value: float
    n: int
    lower_is_better: bool = False
    #: Standard deviation of the per-query differences (NaN when unknown).
    sd_difference: float = math.nan

    @property
    def difference(self) -> float:
        return self.worse - self.better if self.lower_is_better else self.better - self.worse

    @property
    def in_direction(self) -> bool:
        return self.difference > 0

    @property
    def significant(self) -> bool:
        return self.in_direction and self.p_value < ALPHA

    @property
    def queries_needed(self) -> int | None:
        """Test queries a paired t-test needs to detect this comparison's observed difference
        (:func:`queries_needed`); ``None`` when the difference goes the wrong way or is zero."""
        if not self.in_direction:
            return None
        return queries_needed(abs(self.difference), self.sd_difference, alpha=ALPHA, power=POWER)

    def describe(self) -> str:
        text = f"{self.label}: {self.worse:.3f} -> {self.better:.3f} (p = {format_p(self.p_value)}, n = {self.n}"
        needed = self.queries_needed
        if needed is not None and not self.significant:
            text += f"; ~{needed} queries needed"
        return text + ")"


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one of the paper's claims, with the numbers behind it."""

    number: int
    claim: str
    verdict: Verdict
    p_value: float | None
    evidence: str
    #: For a claim that holds only in direction: the test queries its weakest comparison would
    #: need (:func:`queries_needed`); ``None`` otherwise.
    queries_needed: int | None = None

    @property
    def label(self) -> str:
        """The verdict as the book prints it, with the p-value where it matters."""
        if self.verdict is Verdict.IN_DIRECTION and self.p_value is not None:
            return f"{self.verdict.value} (p = {format_p(self.p_value)})"
        return self.verdict.value


def format_p(value: float | None) -> str:
    """A p-value as the evidence strings print it."""
    return "n/a" if value is None or math.isnan(value) else (f"{value:.3f}" if value >= 0.001 else f"{value:.1e}")


def paired(label: str, better: pd.Series, worse: pd.Series, *, lower_is_better: bool = False,
           test: Test = "ttest") -> Comparison:
    """Paired two-sided test (:func:`kdlib.eval.significance.paired_test`) of ``better``
    against ``worse`` over their shared queries.

    Raises:
        ValueError: fewer than two shared queries.
    """
    shared = better.index.intersection(worse.index)
    if len(shared) < 2:
        raise ValueError(f"{label}: a paired test needs at least two shared queries, got {len(shared)}")
    result = paired_test(worse.loc[shared].astype(float), better.loc[shared].astype(float), test)
    return Comparison(label, result.mean_b, result.mean_a, result.p_value, result.n, lower_is_better,
                      result.sd_difference)


def check(number: int, verdict: Verdict, p_value: float | None, evidence: str,
          queries_needed: int | None = None) -> ClaimCheck:
    """A :class:`ClaimCheck` of claim ``number`` with the claim's text quoted from the paper."""
    return ClaimCheck(number, paper.claims()[number], verdict, p_value, evidence, queries_needed)


def verdict_of(number: int, comparisons: Sequence[Comparison], context: str = "") -> ClaimCheck:
    """Aggregate comparisons into a verdict (module docstring)."""
    if not comparisons:
        return check(number, Verdict.NOT_TESTED, None, context or "the runs this claim compares are missing")
    wrong = [c for c in comparisons if not c.in_direction]
    details = "; ".join(c.describe() for c in comparisons)
    rule = f"rule: every comparison in the claimed direction and p < {ALPHA:g} (paired test over test queries)"
    prefix = f"{context} " if context else ""
    if wrong:
        p_value = min(c.p_value for c in wrong)
        names = ", ".join(c.label for c in wrong)
        return check(number, Verdict.DOES_NOT_HOLD, p_value, f"{prefix}{details}. Against the claim: {names}. {rule}.")
    p_value = max(c.p_value for c in comparisons)
    if all(c.significant for c in comparisons):
        return check(number, Verdict.HOLDS, p_value, f"{prefix}{details}. {rule}.")
    figures = [c.queries_needed for c in comparisons if not c.significant]
    needed = max((n for n in figures if n), default=None)
    power = (f" If each observed difference were the true one, an {POWER:.0%}-power test of the weakest would "
             f"need about {needed} test queries." if needed else "")
    return check(number, Verdict.IN_DIRECTION, p_value, f"{prefix}{details}. {rule}.{power}", needed)
