"""The claim registry: one check per claim of the paper, registered under its number.

A check is a function of the :class:`Evidence` (what our runs measured) to a
:class:`~kdlib.repro.claims.verdicts.ClaimCheck`; :mod:`kdlib.repro.claims.checks` registers
the paper's seven with ``@claim(number)``. :func:`check_claims` runs every registered check,
:func:`check_claim` one of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pandas as pd

from kdlib.eval.significance import Test
from kdlib.repro.claims.verdicts import ClaimCheck

Row = tuple[str, str, str]


@dataclass(frozen=True)
class Evidence:
    """Everything the checks read: plain data, so every rule can be tested on hand-made numbers.

    Attributes:
        per_query: per-query ``measure`` of every result row ``(arch, teacher, loss)``
            (a pandas Series indexed by qid, e.g. from :func:`kdlib.repro.per_query`);
            baseline students are ``(arch, "baseline", "ranknet")``.
        archs: the student architectures of the matrix.
        measure: the measure ``per_query`` holds (for the evidence text).
        loss: the distillation loss of the main matrix.
        loss_rivals: the losses claim 6 compares ``loss`` against (the paper's two).
        score_stats: per-architecture raw score statistics of the baseline students
            (columns arch, mean_pos, mean_neg, std_margin).
        latency_ms: per-query latency (ms) of each architecture (the students, at their size).
        paper_size_latency_ms: per-query latency (ms) of each architecture at the paper's model
            size (built untrained from ``eval.latency_paper_encoder``); claim 5 is decided on
            these where present (``None``: not measured).
        paper_size_encoder: the encoder of ``paper_size_latency_ms``, for the evidence.
        dense: per-query ``measure`` of BERT_DOT dense retrieval by teacher (baseline, T1, T2).
        claim3_archs: the students claim 3 is checked for (``None``: all of ``archs``).
        same_query_t1: per architecture, the per-query ``measure`` of its T1 student trained on
            exactly the label-only baseline's queries, where the matrix's T1 students train on
            more (unjudged queries too): claim 2 compares on the same queries (``None``: the
            matrix's T1 students already do).
        same_query_count: how many queries those T1 students (and the baselines) trained on.
        test: the paired test (``eval.significance``).
        test_set: the test set ``per_query`` (and ``dense``) were measured on, for the evidence
            and ``claims.csv``.
        primary_test_set: the profile's ``data.test``, the only test set score statistics,
            latency and dense retrieval are measured on (``""``: ``test_set`` is it).
    """

    per_query: Mapping[Row, pd.Series] = field(default_factory=dict)
    archs: Sequence[str] = ()
    measure: str = "nDCG@10"
    loss: str = "margin_mse"
    loss_rivals: Sequence[str] = ("pointwise_mse", "weighted_ranknet")
    score_stats: pd.DataFrame | None = None
    latency_ms: Mapping[str, pd.Series] | None = None
    paper_size_latency_ms: Mapping[str, pd.Series] | None = None
    paper_size_encoder: str = ""
    dense: Mapping[str, pd.Series] | None = None
    claim3_archs: Sequence[str] | None = None
    same_query_t1: Mapping[str, pd.Series] | None = None
    same_query_count: int | None = None
    test: Test = "ttest"
    test_set: str = ""
    primary_test_set: str = ""

    @property
    def on_further_test_set(self) -> bool:
        """Whether ``test_set`` is another than ``data.test`` (one of ``data.eval_datasets``)."""
        return bool(self.primary_test_set) and self.test_set != self.primary_test_set


Check = Callable[[Evidence], ClaimCheck]
#: The registered checks by claim number.
CHECKS: dict[int, Check] = {}


def claim(number: int) -> Callable[[Check], Check]:
    """Register the decorated function as the check of claim ``number``."""
    def register(check: Check) -> Check:
        if number in CHECKS:
            raise ValueError(f"claim {number} has a check already ({CHECKS[number].__name__})")
        CHECKS[number] = check
        return check
    return register


def check_claim(number: int, **evidence) -> ClaimCheck:
    """Run the registered check of claim ``number`` on :class:`Evidence` ``(**evidence)``.

    Raises:
        KeyError: no check is registered for ``number``.
    """
    return CHECKS[number](Evidence(**evidence))


def check_claims(per_query: Mapping[Row, pd.Series], **evidence) -> list[ClaimCheck]:
    """Run every registered check, in claim order (see ``kdlib.repro.paper.claims()``)."""
    given = Evidence(per_query=per_query, **evidence)
    return [CHECKS[number](given) for number in sorted(CHECKS)]
