"""Check the paper's claims on our own runs: each returns holds / does not hold and why.

Every check takes measured results (never the paper's numbers) and states the rule it applies
in its evidence string, so that a reader can disagree with the rule and see the numbers. A claim
whose runs are missing is reported as ``not tested``, never as holding.

The results frame has one row per (arch, teacher, loss, measure) with the mean ``value`` over
the test queries, as written to ``artifacts/<profile>/results.csv``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import pandas as pd

from kdlib import paper

Verdict = Literal["holds", "does not hold", "not tested"]

#: Claim 1's thresholds: "very different ranges" = the spread of the architectures' mean score
#: levels exceeds LEVEL_FACTOR x the largest margin; "similar margins" = the largest margin is at
#: most MARGIN_RATIO x the smallest (all margins positive).
LEVEL_FACTOR = 2.0
MARGIN_RATIO = 3.0


@dataclass(frozen=True)
class ClaimCheck:
    """The verdict on one of the paper's claims, with the numbers behind it."""

    number: int
    claim: str
    verdict: Verdict
    evidence: str


class _Results:
    def __init__(self, results: pd.DataFrame, measure: str) -> None:
        rows = results[results["measure"] == measure]
        self._values = {(r.arch, r.teacher, r.loss): float(r.value) for r in rows.itertuples()}
        self.measure = measure

    def get(self, arch: str, teacher: str, loss: str) -> float | None:
        return self._values.get((arch, teacher, loss))


def _check(number: int, ok: bool | None, evidence: str) -> ClaimCheck:
    verdict: Verdict = "not tested" if ok is None else ("holds" if ok else "does not hold")
    return ClaimCheck(number, paper.claims()[number], verdict, evidence)


def score_levels(score_stats: pd.DataFrame) -> ClaimCheck:
    """Claim 1 from per-architecture mean raw scores (columns arch, mean_pos, mean_neg)."""
    if score_stats is None or len(score_stats) < 2:
        return _check(1, None, "needs baseline score statistics of at least two architectures")
    margins = score_stats["mean_pos"] - score_stats["mean_neg"]
    centres = (score_stats["mean_pos"] + score_stats["mean_neg"]) / 2
    spread = float(centres.max() - centres.min())
    largest, smallest = float(margins.max()), float(margins.min())
    ranges_differ = spread > LEVEL_FACTOR * largest
    margins_similar = smallest > 0 and largest <= MARGIN_RATIO * smallest
    parts = ", ".join(
        f"{r.arch} {r.mean_pos:.2f}/{r.mean_neg:.2f} (margin {r.mean_pos - r.mean_neg:.2f})"
        for r in score_stats.itertuples()
    )
    evidence = (
        f"mean positive/negative scores: {parts}. Level spread {spread:.2f} vs "
        f"{LEVEL_FACTOR:g} x largest margin {largest:.2f} -> ranges "
        f"{'differ greatly' if ranges_differ else 'do not differ greatly'}; margins from "
        f"{smallest:.2f} to {largest:.2f} -> {'similar' if margins_similar else 'not similar'} "
        f"(rule: largest <= {MARGIN_RATIO:g} x smallest)."
    )
    return _check(1, ranges_differ and margins_similar, evidence)


def _pairwise(number: int, res: _Results, archs: Sequence[str], better: tuple[str, str],
              worse: tuple[str, str]) -> ClaimCheck:
    parts, oks = [], []
    for arch in archs:
        hi, lo = res.get(arch, *better), res.get(arch, *worse)
        if hi is None or lo is None:
            continue
        oks.append(hi > lo)
        parts.append(f"{arch} {lo:.3f} -> {hi:.3f}")
    if not oks:
        return _check(number, None, f"no runs of {better} and {worse}")
    evidence = (f"{res.measure}, {worse[0]} ({worse[1]}) -> {better[0]} ({better[1]}): "
                + "; ".join(parts) + f" ({sum(oks)}/{len(oks)} improve)")
    return _check(number, all(oks), evidence)


def check_claims(
    results: pd.DataFrame,
    *,
    measure: str = "nDCG@10",
    loss: str = "margin_mse",
    score_stats: pd.DataFrame | None = None,
    teacher_values: Mapping[str, float] | None = None,
    latency_ms: Mapping[str, float] | None = None,
    dense: pd.DataFrame | None = None,
) -> list[ClaimCheck]:
    """Check claims 1-7 (see ``kdlib.paper.claims()``) on our runs.

    Args:
        results: rows (arch, teacher, loss, measure, value) of the distillation runs.
        measure: the effectiveness measure compared (default nDCG@10 on the test set).
        loss: the distillation loss of the main matrix.
        score_stats: per-architecture mean raw positive / negative scores of baseline runs.
        teacher_values: the teachers' own ``measure`` re-ranking the same candidates ("T1", "T2").
        latency_ms: median query latency per architecture.
        dense: dense-retrieval rows (teacher, measure, value) of the BERT_DOT students.
    """
    res = _Results(results, measure)
    archs = list(dict.fromkeys(results["arch"]))
    checks = [score_levels(score_stats) if score_stats is not None else _check(1, None, "no score statistics")]
    checks.append(_pairwise(2, res, archs, ("T1", loss), ("baseline", "ranknet")))
    checks.append(_pairwise(3, res, archs, ("T2", loss), ("T1", loss)))

    # Claim 4: the strongest students with T2 against the teacher (T1) itself.
    if teacher_values and "T1" in teacher_values:
        teacher = teacher_values["T1"]
        parts, oks = [], []
        for arch in ("colbert", "prett", "bert_cat"):
            value = res.get(arch, "T2", loss)
            if value is not None:
                oks.append(value > teacher)
                parts.append(f"{arch} (T2) {value:.3f}")
        evidence = f"{measure} of teacher T1 re-ranking the same candidates {teacher:.3f}; " + "; ".join(parts)
        checks.append(_check(4, all(oks) if oks else None, evidence))
    else:
        checks.append(_check(4, None, "no teacher effectiveness given"))

    # Claim 5: our latency order against the paper's, over the architectures we measured.
    if latency_ms:
        paper_order = [a for a in paper.figures()["latency_order"] if a in latency_ms]
        ours = sorted(paper_order, key=lambda a: latency_ms[a])
        evidence = ("ours: " + " < ".join(f"{a} ({latency_ms[a]:.1f} ms)" for a in ours)
                    + "; paper: " + " < ".join(paper_order)
                    + ". Distillation keeps the architecture, so it cannot change latency.")
        checks.append(_check(5, ours == paper_order, evidence))
    else:
        checks.append(_check(5, None, "no latency measurements"))

    # Claim 6: Margin-MSE against the other distillation losses, per architecture.
    others = sorted({l for (a, t, l) in res._values if l not in (loss, "ranknet")})
    parts, oks = [], []
    for arch in archs:
        for teacher in ("T2", "T1"):
            ours = res.get(arch, teacher, loss)
            rivals = {o: res.get(arch, teacher, o) for o in others}
            rivals = {o: v for o, v in rivals.items() if v is not None}
            if ours is None or not rivals:
                continue
            compared = [o for o in rivals if o in ("pointwise_mse", "weighted_ranknet")]
            oks += [ours > rivals[o] for o in compared]
            parts.append(f"{arch}/{teacher}: {loss} {ours:.3f} vs "
                         + ", ".join(f"{o} {v:.3f}" for o, v in rivals.items()))
            break
    checks.append(_check(6, all(oks) if oks else None,
                         f"{measure}: " + "; ".join(parts) if parts else "no loss comparison runs"))

    # Claim 7: dense retrieval, none < T1 < T2 for BERT_DOT (on our test set; DEV is not available).
    if dense is not None and len(dense):
        rows = dense[dense["measure"] == measure].set_index("teacher")["value"]
        if all(t in rows for t in ("baseline", "T1", "T2")):
            b, t1, t2 = (float(rows[t]) for t in ("baseline", "T1", "T2"))
            evidence = f"dense {measure}: baseline {b:.3f} < T1 {t1:.3f} < T2 {t2:.3f}? (our test set, not DEV)"
            checks.append(_check(7, b < t1 < t2, evidence))
        else:
            checks.append(_check(7, None, "dense runs of baseline, T1 and T2 are not all present"))
    else:
        checks.append(_check(7, None, "no dense retrieval runs"))
    return checks


def claims_table(checks: Sequence[ClaimCheck]) -> pd.DataFrame:
    """The checks as a frame for display."""
    return pd.DataFrame([c.__dict__ for c in checks]).set_index("number")
