"""The claims' verdicts as the book shows them: one overview table and one box per verdict.

A notebook displays what these functions return; nothing is computed here
(:mod:`kdlib.repro.claims` decides every verdict).

- :func:`claims_overview`: one row per claim and test set with our effect, its 95% CI, the
  paper's effect and the verdict, every figure formatted as text ("–" where none applies), so
  the table shows no ``NaN`` and stays narrow (the long evidence goes into the boxes).
- :func:`verdict_box`: one claim's verdict as a coloured box with its figures, the note on
  what differs from the paper, and the evidence in a collapsible ``<details>`` block.

Why HTML: myst-nb (jupyter-book 1.x) renders a ``text/markdown`` output as CommonMark, so a
MyST admonition printed by a cell (``display(Markdown(":::{note} ..."))``) shows up as raw
text. A ``text/html`` output is copied into the page as it is: the box is a ``<div>`` with
inline styles (no stylesheet, no script, no network), so it looks the same in the built book,
offline, and in Jupyter. Colours are translucent over the page's own background and text
colour, so they also read in a dark theme.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from kdlib.repro.claims import ClaimCheck, Comparison, Verdict, format_p

#: Shown where a figure does not apply (a claim not tested, claim 1 without a paired test).
MISSING = "–"
#: Shown where the paper quotes no number for a comparison (tested for the claimed direction only).
NOT_QUOTED = "not quoted"
#: The colour (RGB) and mark of each verdict's box.
STYLE: Mapping[Verdict, tuple[tuple[int, int, int], str]] = {
    Verdict.REPRODUCED: ((46, 125, 50), "✔"),
    Verdict.CONSISTENT: ((191, 134, 0), "≈"),
    Verdict.NOT_REPRODUCED: ((198, 40, 40), "✘"),
    Verdict.NOT_TESTED: ((117, 117, 117), "–"),
}
#: The columns of :func:`claims_overview`.
OVERVIEW_COLUMNS = ("claim", "test set", "verdict", "ours", "95% CI", "paper's effect", "p", "queries needed")


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_effect(value: float | None, measure: str = "") -> str:
    """An effect with its sign: 3 decimals, 1 with `` ms`` for latency; :data:`MISSING` for none."""
    if _missing(value):
        return MISSING
    return f"{value:+.1f} ms" if measure == "ms" else f"{value:+.3f}"


def format_ci(low: float | None, high: float | None, measure: str = "") -> str:
    """A confidence interval ``[low, high]``; :data:`MISSING` when either end is missing."""
    if _missing(low) or _missing(high):
        return MISSING
    return f"[{format_effect(low, measure)}, {format_effect(high, measure)}]"


def _paper_text(check_or_comparison: ClaimCheck | Comparison, measure: str) -> str:
    tested = not isinstance(check_or_comparison, ClaimCheck) or check_or_comparison.weakest is not None
    if not tested:
        return MISSING
    effect = check_or_comparison.paper_effect
    return NOT_QUOTED if effect is None else format_effect(effect, measure)


def _test_set(check: ClaimCheck) -> str:
    """The test set with the measure of its effects (latency effects carry their unit instead)."""
    if not check.test_set:
        return MISSING
    return f"{check.test_set} ({check.measure})" if check.measure and check.measure != "ms" else check.test_set


def claims_overview(checks: Sequence[ClaimCheck]) -> pd.DataFrame:
    """One row per claim and test set (:data:`OVERVIEW_COLUMNS`), every cell text; the test set
    names the measure of the effects (``trec-dl-2019 (nDCG@10)``; claim 5's are in ms).

    ``ours``, the CI, the paper's effect and ``p`` are the claim's weakest comparison's
    (:func:`kdlib.repro.claims.weakest`); the paper's effect reads "not quoted" where the paper
    gives no number (the claimed direction only was tested), "–" where nothing was tested.
    """
    rows = []
    for c in checks:
        rows.append({
            "claim": str(c.number), "test set": _test_set(c), "verdict": c.verdict.value,
            "ours": format_effect(c.ours, c.measure),
            "95% CI": format_ci(c.ci_low, c.ci_high, c.measure), "paper's effect": _paper_text(c, c.measure),
            "p": MISSING if c.p_value is None else format_p(c.p_value),
            "queries needed": MISSING if c.queries_needed is None else f"{c.queries_needed:,}",
        })
    return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))


@dataclass(frozen=True)
class VerdictBox:
    """A rendered verdict: ``html`` for notebooks and the book, ``text`` for a terminal."""

    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def _comparisons_table(comparisons: Sequence[Comparison], measure: str) -> str:
    head = "".join(f"<th style='text-align:left;padding:0 .6em 0 0'>{h}</th>"
                   for h in ("comparison", "ours", "95% CI", "paper's effect", "p", "n", "verdict"))
    body = []
    for c in comparisons:
        cells = (c.label, format_effect(c.difference, measure), format_ci(c.ci_low, c.ci_high, measure),
                 _paper_text(c, measure), format_p(c.p_value), str(c.n), c.verdict.value)
        body.append("<tr>" + "".join(f"<td style='padding:0 .6em 0 0'>{html.escape(x)}</td>" for x in cells) + "</tr>")
    return (f"<table style='font-size:90%;border-collapse:collapse;margin:.4em 0'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def verdict_box(check: ClaimCheck, note: str | None = None) -> VerdictBox:
    """One claim's verdict on one test set as a box (module docstring): title with the verdict,
    the claim quoted, the weakest comparison's figures beside the paper's effect, the test
    queries a consistent claim would need, ``note`` (what differs from the paper's setting),
    and the comparisons and evidence in a collapsible block."""
    (r, g, b), mark = STYLE[check.verdict]
    where = ", ".join(x for x in (check.test_set, check.measure) if x)
    title = f"Claim {check.number}{f' ({where})' if where else ''}: {check.verdict.value}"
    lines = [f"<em>{html.escape(check.claim)}</em> (the paper)"]
    text = [f"{mark} {title}", f"  {check.claim}"]
    if check.weakest is not None:
        figures = (f"ours {format_effect(check.ours, check.measure)} "
                   f"(95% CI {format_ci(check.ci_low, check.ci_high, check.measure)}), paper's effect "
                   f"{_paper_text(check, check.measure)}, p = {format_p(check.p_value)}")
        if len(check.comparisons) > 1:
            figures += f"; weakest of {len(check.comparisons)} comparisons: {check.weakest.label}"
        lines.append(html.escape(figures))
        text.append(f"  {figures}")
    if check.queries_needed is not None:
        needed = f"A paired t-test would need about {check.queries_needed:,} test queries to decide it (80% power)."
        lines.append(html.escape(needed))
        text.append(f"  {needed}")
    if note:
        lines.append(f"<strong>What differs from the paper:</strong> {html.escape(note)}")
        text.append(f"  What differs from the paper: {note}")
    details = _comparisons_table(check.comparisons, check.measure) if check.comparisons else ""
    details += f"<p style='margin:.3em 0 0 0'>{html.escape(check.evidence)}</p>"
    text.append(f"  Evidence: {check.evidence}")
    paragraphs = "".join(f"<p style='margin:.25em 0'>{line}</p>" for line in lines)
    body = (
        f"<div class='kdlib-verdict kdlib-verdict-{check.verdict.name.lower()}' "
        f"style='border-left:4px solid rgb({r},{g},{b});background:rgba({r},{g},{b},0.08);"
        f"padding:.5em 1em;margin:.8em 0;border-radius:3px'>"
        f"<p style='margin:0 0 .3em 0;font-weight:bold;color:rgb({r},{g},{b})'>{mark} {html.escape(title)}</p>"
        f"{paragraphs}"
        f"<details style='margin-top:.3em'><summary style='cursor:pointer'>Evidence</summary>{details}</details>"
        f"</div>"
    )
    return VerdictBox(body, "\n".join(text))


def finding_box(title: str, verdict: Verdict, lines: Sequence[str], evidence: str = "") -> VerdictBox:
    """A box like :func:`verdict_box` for a finding that is not one of the paper's claims (e.g.
    chapter 2's premise that T2 ranks better than T1): ``title`` with the verdict's colour and
    mark, one paragraph per line, ``evidence`` collapsed."""
    (r, g, b), mark = STYLE[verdict]
    paragraphs = "".join(f"<p style='margin:.25em 0'>{html.escape(line)}</p>" for line in lines)
    details = (f"<details style='margin-top:.3em'><summary style='cursor:pointer'>Evidence</summary>"
               f"<p style='margin:.3em 0 0 0'>{html.escape(evidence)}</p></details>" if evidence else "")
    body = (f"<div class='kdlib-verdict kdlib-verdict-{verdict.name.lower()}' "
            f"style='border-left:4px solid rgb({r},{g},{b});background:rgba({r},{g},{b},0.08);"
            f"padding:.5em 1em;margin:.8em 0;border-radius:3px'>"
            f"<p style='margin:0 0 .3em 0;font-weight:bold;color:rgb({r},{g},{b})'>{mark} {html.escape(title)}</p>"
            f"{paragraphs}{details}</div>")
    text = "\n".join([f"{mark} {title}", *(f"  {line}" for line in lines), *([f"  Evidence: {evidence}"] if evidence else [])])
    return VerdictBox(body, text)


def verdict_boxes(checks: Sequence[ClaimCheck], notes: Mapping[tuple[int, str], str] | None = None) -> list[VerdictBox]:
    """:func:`verdict_box` of every check, each with its note (by ``(number, test_set)``) if any."""
    notes = notes or {}
    return [verdict_box(c, notes.get((c.number, c.test_set))) for c in checks]
