"""The paper's claims, each a registered check on our own runs, its verdict tested against noise.

- :mod:`~kdlib.repro.claims.verdicts`  :class:`Verdict`, the paired :class:`Comparison`, and the
  rule that turns comparisons into a verdict;
- :mod:`~kdlib.repro.claims.registry`  the :class:`Evidence` checks read and the registry
  (``@claim(number)``);
- :mod:`~kdlib.repro.claims.checks`    the paper's seven claims;
- :mod:`~kdlib.repro.claims.notes`     what differs from the paper's scale, by claim.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from kdlib.eval.significance import queries_needed
from kdlib.repro.claims import checks as _registered  # noqa: F401 (importing registers the seven checks)
from kdlib.repro.claims.checks import CLAIM4_ARCHS, LEVEL_FACTOR, MARGIN_RATIO, OWN_TEACHER, score_levels
from kdlib.repro.claims.notes import Scale, scale_note
from kdlib.repro.claims.registry import CHECKS, Evidence, check_claim, check_claims, claim
from kdlib.repro.claims.verdicts import ALPHA, POWER, ClaimCheck, Comparison, Verdict, format_p, paired, verdict_of

__all__ = [
    "ALPHA", "CHECKS", "CLAIM4_ARCHS", "LEVEL_FACTOR", "MARGIN_RATIO", "OWN_TEACHER", "POWER", "ClaimCheck",
    "Comparison", "Evidence", "Scale", "Verdict", "check_claim", "check_claims", "claim", "claims_table",
    "format_p", "paired", "queries_needed", "scale_note", "score_levels", "verdict_counts", "verdict_of",
    "write_claims_csv",
]


def claims_table(checks: Sequence[ClaimCheck]) -> pd.DataFrame:
    """The checks as a frame: number, claim, verdict (with p where it matters), p_value, evidence."""
    rows = [{"number": c.number, "claim": c.claim, "verdict": c.label, "p_value": c.p_value,
             "queries_needed": c.queries_needed, "evidence": c.evidence} for c in checks]
    return pd.DataFrame(rows).set_index("number")


def verdict_counts(checks: Sequence[ClaimCheck]) -> dict[Verdict, int]:
    """How many checks reached each verdict (every verdict present, zero where none did)."""
    return {verdict: sum(c.verdict is verdict for c in checks) for verdict in Verdict}


def write_claims_csv(checks: Sequence[ClaimCheck], path) -> None:
    """Write ``claims.csv`` (number, verdict, p_value, queries_needed, evidence) atomically."""
    from kdlib.core.artifacts import write_csv

    frame = pd.DataFrame([{"number": c.number, "verdict": c.verdict.value, "p_value": c.p_value,
                           "queries_needed": c.queries_needed, "evidence": c.evidence} for c in checks])
    frame["queries_needed"] = frame["queries_needed"].astype("Int64")
    write_csv(path, frame)
