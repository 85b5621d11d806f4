"""The paper's claims, each a registered check on our own runs: our effects beside the paper's, tested against noise.

- :mod:`~kdlib.repro.claims.verdicts`  :class:`Verdict`, the paired :class:`Comparison` beside the
  paper's effect, and the rule that turns comparisons into a verdict (:data:`RULE`);
- :mod:`~kdlib.repro.claims.registry`  the :class:`Evidence` checks read and the registry
  (``@claim(number)``);
- :mod:`~kdlib.repro.claims.checks`    the paper's seven claims;
- :mod:`~kdlib.repro.claims.notes`     what differs from the paper's scale, by claim;
- ``claims.csv`` (:func:`write_claims_csv`): one row per claim and test set.
"""
from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from kdlib.eval.significance import queries_needed
from kdlib.repro.claims import checks as _registered  # noqa: F401 (importing registers the seven checks)
from kdlib.repro.claims.checks import CLAIM4_ARCHS, LEVEL_FACTOR, MARGIN_RATIO, OWN_TEACHER, T1_TEACHER, score_levels
from kdlib.repro.claims.notes import NOTED, Scale, notes_for, scale_note
from kdlib.repro.claims.registry import CHECKS, Evidence, check_claim, check_claims, claim
from kdlib.repro.claims.verdicts import (
    ALPHA,
    CONFIDENCE,
    POWER,
    RULE,
    ClaimCheck,
    Comparison,
    Verdict,
    aggregate,
    format_p,
    paired,
    verdict_of,
    weakest,
)

__all__ = [
    "ALPHA", "CHECKS", "CLAIM4_ARCHS", "CONFIDENCE", "CSV_COLUMNS", "LEVEL_FACTOR", "MARGIN_RATIO", "NOTED",
    "OWN_TEACHER", "T1_TEACHER", "POWER", "RULE", "ClaimCheck", "Comparison", "Evidence", "Scale", "Verdict", "aggregate",
    "check_claim", "check_claims", "claim", "claims_table", "format_p", "notes_for", "paired", "queries_needed",
    "scale_note", "score_levels", "verdict_counts", "verdict_of", "weakest", "write_claims_csv",
]

#: The columns of ``claims.csv``, one row per claim and test set (:func:`claims_table`).
CSV_COLUMNS = ("number", "test_set", "measure", "verdict", "ours", "ci_low", "ci_high", "paper_effect", "p_value",
               "queries_needed", "evidence")


def claims_table(checks: Sequence[ClaimCheck]) -> pd.DataFrame:
    """The checks as a frame, one row per claim and test set, in :data:`CSV_COLUMNS` (``NaN`` /
    ``<NA>`` where a figure does not apply).

    ``ours``, ``ci_low``/``ci_high``, ``paper_effect`` and ``p_value`` are those of the claim's
    *weakest* comparison (:func:`weakest`: the lowest comparison verdict, then the smallest
    effect in the claimed direction), oriented the claimed way, in ``measure`` (``ms`` for
    claim 5's latency); ``paper_effect`` is empty where the paper quotes no number (the
    comparison was tested for the claimed direction only). ``queries_needed`` is set for a
    consistent claim: the test queries its most demanding consistent comparison would need.
    Claim 1 is descriptive and has no figures.
    """
    def number(value: float | None) -> float:
        return math.nan if value is None else float(value)

    rows = [{"number": c.number, "test_set": c.test_set, "measure": c.measure, "verdict": c.verdict.value,
             "ours": number(c.ours), "ci_low": number(c.ci_low), "ci_high": number(c.ci_high),
             "paper_effect": number(c.paper_effect), "p_value": number(c.p_value),
             "queries_needed": c.queries_needed, "evidence": c.evidence} for c in checks]
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    frame["queries_needed"] = frame["queries_needed"].astype("Int64")
    return frame


def verdict_counts(checks: Sequence[ClaimCheck], test_set: str | None = None) -> dict[Verdict, int]:
    """How many checks (of ``test_set``; ``None``: all) reached each verdict (every verdict
    present, zero where none did)."""
    chosen = [c for c in checks if test_set is None or c.test_set == test_set]
    return {verdict: sum(c.verdict is verdict for c in chosen) for verdict in Verdict}


def write_claims_csv(checks: Sequence[ClaimCheck], path) -> None:
    """Write ``claims.csv`` (:func:`claims_table`, :data:`CSV_COLUMNS`) atomically."""
    from kdlib.core.artifacts import write_csv

    write_csv(path, claims_table(checks))
