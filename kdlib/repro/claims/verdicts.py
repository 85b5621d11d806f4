"""Verdicts on the paper's claims: our effect beside the paper's, comparison by comparison.

A claim makes one or more paired comparisons (a student with T1 against its baseline, T2
against T1, ...). For each, our **effect** is the mean per-query difference in the claimed
direction on one test set, with its 95% confidence interval (t-based) and the two-sided paired
test over the test queries (:func:`kdlib.eval.significance.paired_test`, the test
``eval.significance`` chooses). The **paper's effect** is the difference of the paper's two
quoted figures on the same measure (TREC-DL'19 nDCG@10 or MSMARCO-DEV MRR@10,
:mod:`kdlib.repro.paper`), oriented the same way.

The rule, for one comparison, checked in this order:

1. *reproduced*: our effect goes the paper's direction (has the sign of the paper's effect) and
   ``p < ALPHA``;
2. *consistent*: our 95% CI contains the paper's effect;
3. *not reproduced*: otherwise.

Where the paper quotes no number for a comparison (claim 4's analogue against our own
teacher, claim 5's CPU latency, claim 6's losses) its effect is unknown and only the claimed
direction is tested (*direction only*): *reproduced* if our effect goes the claimed way with
``p < ALPHA``, *not reproduced* if it goes significantly the other way, *consistent* otherwise
(a difference the test cannot tell from none; with the t-test exactly when the CI contains 0).

For a claim: *reproduced* if every comparison is, *not reproduced* if any is, *consistent*
otherwise; *not tested* if the runs it compares are missing on the test set (never counted as
reproduced). The claim's figures (``ours``, CI, paper's effect, p) are those of its **weakest**
comparison: the one with the lowest verdict (not reproduced < consistent < reproduced), among
those the one whose effect in the claimed direction is smallest.

Why this rule: a reproduction at a smaller scale rarely has the power to make a one-point
difference significant, so "not significant" alone says little. The confidence interval
separates "our runs cannot tell" (it contains the paper's effect: *consistent*) from "our runs
disagree with the paper" (it excludes the paper's effect, and the effect is not significant the
paper's way: *not reproduced*). For a consistent comparison that goes the claimed way, the book
also gives the test queries a paired t-test would need to detect the difference we observed
with 80% power (:func:`kdlib.eval.significance.queries_needed`), a planning figure that tells
whether a larger test set could decide it.
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
#: Coverage of every confidence interval of an effect.
CONFIDENCE = 0.95
#: Power for :func:`queries_needed`: the chance of detecting a true difference of the observed size.
POWER = 0.8
#: The rule in one sentence, as the evidence texts and the book state it.
RULE = (f"rule per comparison: reproduced if in the paper's direction with p < {ALPHA:g} (paired test over "
        f"test queries), else consistent if our {CONFIDENCE:.0%} CI contains the paper's effect, else not "
        f"reproduced; where the paper quotes no number, the claimed direction only (reproduced if p < {ALPHA:g} "
        f"that way, not reproduced if p < {ALPHA:g} the other way, else consistent). A claim is reproduced if "
        f"all its comparisons are, not reproduced if any is, else consistent")


class Verdict(str, enum.Enum):
    """What our runs say about a claim or one of its comparisons (module docstring); its value
    is what the book prints."""

    REPRODUCED = "reproduced"
    CONSISTENT = "consistent"
    NOT_REPRODUCED = "not reproduced"
    NOT_TESTED = "not tested"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


#: The verdicts of a comparison from weakest to strongest (the weakest comparison decides a claim).
STRENGTH = (Verdict.NOT_REPRODUCED, Verdict.CONSISTENT, Verdict.REPRODUCED)


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: is ``better`` above ``worse`` (or below, for latency)?

    Every effect is oriented the claimed way: ``difference`` and the CI are positive when the
    comparison goes as the claim says, and so is ``paper_effect`` when the paper's figures do.
    """

    label: str
    better: float
    worse: float
    p_value: float
    n: int
    lower_is_better: bool = False
    #: Standard deviation of the per-query differences (NaN when unknown).
    sd_difference: float = math.nan
    #: 95% confidence interval of ``difference`` (NaN when unknown).
    ci_low: float = math.nan
    ci_high: float = math.nan
    #: The paper's effect on the same measure (``None``: the paper quotes no number for it).
    paper_effect: float | None = None

    @property
    def difference(self) -> float:
        """Our effect: the mean difference in the claimed direction."""
        return self.worse - self.better if self.lower_is_better else self.better - self.worse

    @property
    def in_direction(self) -> bool:
        """Our effect goes the claimed way (a tie does not)."""
        return self.difference > 0

    @property
    def significant(self) -> bool:
        """Our effect goes the claimed way with ``p < ALPHA``."""
        return self.in_direction and self.p_value < ALPHA

    @property
    def verdict(self) -> Verdict:
        """This comparison's verdict (module docstring)."""
        significant = self.p_value < ALPHA
        if self.paper_effect is None:  # direction only
            if significant and self.difference > 0:
                return Verdict.REPRODUCED
            if significant and self.difference < 0:
                return Verdict.NOT_REPRODUCED
            return Verdict.CONSISTENT
        if significant and self.difference * self.paper_effect > 0:
            return Verdict.REPRODUCED
        if self.ci_low <= self.paper_effect <= self.ci_high:
            return Verdict.CONSISTENT
        return Verdict.NOT_REPRODUCED

    @property
    def queries_needed(self) -> int | None:
        """Test queries a paired t-test needs to detect this comparison's observed difference
        (:func:`queries_needed`); ``None`` when the difference goes the wrong way or is zero."""
        if not self.in_direction:
            return None
        return queries_needed(abs(self.difference), self.sd_difference, alpha=ALPHA, power=POWER)

    def describe(self) -> str:
        """One line of evidence: the means, our effect with its CI, p, n, the paper's effect,
        the verdict and, when consistent, the queries a test would need."""
        paper_text = "paper's effect not quoted" if self.paper_effect is None else f"paper {self.paper_effect:+.3f}"
        text = (f"{self.label}: {self.worse:.3f} -> {self.better:.3f}, ours {self.difference:+.3f} "
                f"[{self.ci_low:+.3f}, {self.ci_high:+.3f}], {paper_text} (p = {format_p(self.p_value)}, n = {self.n}")
        needed = self.queries_needed
        if needed is not None and self.verdict is Verdict.CONSISTENT:
            text += f"; ~{needed} queries needed"
        return f"{text}) {self.verdict.value}"


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one of the paper's claims on one test set, with the numbers behind it."""

    number: int
    claim: str
    verdict: Verdict
    evidence: str
    #: The test set (dataset name) and measure the comparisons are on ("" for none).
    test_set: str = ""
    measure: str = ""
    comparisons: tuple[Comparison, ...] = ()
    #: The comparison the claim's figures come from (module docstring); ``None`` without comparisons.
    weakest: Comparison | None = None
    #: For a consistent claim: the test queries the most demanding of its consistent comparisons
    #: would need (:func:`queries_needed`); ``None`` otherwise.
    queries_needed: int | None = None

    @property
    def p_value(self) -> float | None:
        """The weakest comparison's p-value."""
        return None if self.weakest is None else self.weakest.p_value

    @property
    def ours(self) -> float | None:
        """The weakest comparison's effect (in the claimed direction)."""
        return None if self.weakest is None else self.weakest.difference

    @property
    def ci_low(self) -> float | None:
        return None if self.weakest is None else self.weakest.ci_low

    @property
    def ci_high(self) -> float | None:
        return None if self.weakest is None else self.weakest.ci_high

    @property
    def paper_effect(self) -> float | None:
        """The paper's effect of the weakest comparison (``None``: not quoted)."""
        return None if self.weakest is None else self.weakest.paper_effect

    @property
    def label(self) -> str:
        """The verdict as the book prints it, with the p-value where it matters."""
        if self.verdict is Verdict.CONSISTENT and self.p_value is not None:
            return f"{self.verdict.value} (p = {format_p(self.p_value)})"
        return self.verdict.value


def format_p(value: float | None) -> str:
    """A p-value as the evidence strings print it."""
    return "n/a" if value is None or math.isnan(value) else (f"{value:.3f}" if value >= 0.001 else f"{value:.1e}")


def paired(label: str, better: pd.Series, worse: pd.Series, *, lower_is_better: bool = False,
           test: Test = "ttest", paper_effect: float | None = None) -> Comparison:
    """Paired two-sided test (:func:`kdlib.eval.significance.paired_test`) of ``better``
    against ``worse`` over their shared queries, with the 95% CI of the difference oriented the
    claimed way, beside ``paper_effect`` (the paper's, oriented the same way; ``None``: unknown).

    Raises:
        ValueError: fewer than two shared queries.
    """
    shared = better.index.intersection(worse.index)
    if len(shared) < 2:
        raise ValueError(f"{label}: a paired test needs at least two shared queries, got {len(shared)}")
    result = paired_test(worse.loc[shared].astype(float), better.loc[shared].astype(float), test,
                         confidence=CONFIDENCE)
    low, high = (-result.ci_high, -result.ci_low) if lower_is_better else (result.ci_low, result.ci_high)
    return Comparison(label, result.mean_b, result.mean_a, result.p_value, result.n, lower_is_better,
                      result.sd_difference, low, high, paper_effect)


def check(number: int, verdict: Verdict, evidence: str, *, test_set: str = "", measure: str = "",
          comparisons: Sequence[Comparison] = (), weakest: Comparison | None = None,
          queries_needed: int | None = None) -> ClaimCheck:
    """A :class:`ClaimCheck` of claim ``number`` with the claim's text quoted from the paper."""
    return ClaimCheck(number, paper.claims()[number], verdict, evidence, test_set, measure, tuple(comparisons),
                      weakest, queries_needed)


def weakest(comparisons: Sequence[Comparison]) -> Comparison:
    """The comparison a claim's figures come from: the lowest verdict, then the smallest
    effect in the claimed direction.

    Raises:
        ValueError: no comparisons.
    """
    if not comparisons:
        raise ValueError("a claim without comparisons has no weakest one")
    return min(comparisons, key=lambda c: (STRENGTH.index(c.verdict), c.difference))


def aggregate(verdicts: Sequence[Verdict]) -> Verdict:
    """A claim's verdict from its comparisons': reproduced if all are, not reproduced if any
    is, consistent otherwise; not tested without any."""
    if not verdicts:
        return Verdict.NOT_TESTED
    if Verdict.NOT_REPRODUCED in verdicts:
        return Verdict.NOT_REPRODUCED
    return Verdict.REPRODUCED if all(v is Verdict.REPRODUCED for v in verdicts) else Verdict.CONSISTENT


def verdict_of(number: int, comparisons: Sequence[Comparison], context: str = "", *, test_set: str = "",
               measure: str = "", missing: str = "") -> ClaimCheck:
    """Aggregate comparisons into a claim's verdict (module docstring).

    Args:
        context: what the comparisons are, opening the evidence text.
        test_set, measure: where the comparisons were measured.
        missing: the evidence of a claim whose runs are missing (``not tested``).
    """
    if not comparisons:
        return check(number, Verdict.NOT_TESTED, missing or "the runs this claim compares are missing",
                     test_set=test_set, measure=measure)
    verdict = aggregate([c.verdict for c in comparisons])
    weak = weakest(comparisons)
    details = "; ".join(c.describe() for c in comparisons)
    quoted = [c for c in comparisons if c.paper_effect is not None]
    source = (f" Paper's effects: differences of its quoted {paper.effect_source(measure)} figures."
              if quoted else " The paper quotes no number for these comparisons: direction only.")
    prefix = f"{context} " if context else ""
    evidence = (f"{prefix}{details}.{source} Weakest: {weak.label}. "
                f"{RULE}. Effects in the claimed direction, [95% CI].")
    needed = None
    if verdict is Verdict.CONSISTENT:
        figures = [c.queries_needed for c in comparisons if c.verdict is Verdict.CONSISTENT]
        needed = max((n for n in figures if n), default=None)
        if needed:
            evidence += (f" If each observed difference were the true one, an {POWER:.0%}-power test of the "
                         f"most demanding consistent comparison would need about {needed} test queries.")
    return check(number, verdict, evidence, test_set=test_set, measure=measure, comparisons=comparisons,
                 weakest=weak, queries_needed=needed)
