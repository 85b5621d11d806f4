"""The verdict boxes and the claims overview: every figure as text, no NaN, HTML that renders as is."""
from __future__ import annotations

import html.parser

import pandas as pd
import pytest

from kdlib.book import verdicts as book
from kdlib.repro.claims import Verdict, check_claims, paired, verdict_of

QIDS = [str(q) for q in range(40)]


def values(mean: float, spread: float = 0.0) -> pd.Series:
    return pd.Series([mean + (spread if i % 2 else -spread) for i in range(len(QIDS))], index=QIDS)


@pytest.fixture(scope="module")
def checks():
    per_query = {("colbert", "baseline", "ranknet"): values(0.5), ("colbert", "T1", "margin_mse"): values(0.505, 0.1),
                 ("colbert", "T2", "margin_mse"): values(0.6), ("colbert", "T2", "pointwise_mse"): values(0.7),
                 ("colbert", "T2", "weighted_ranknet"): values(0.55)}
    return check_claims(per_query, archs=["colbert"], claim3_archs=("colbert",), test_set="trec-dl-2019",
                        primary_test_set="trec-dl-2019", loss_rivals=("pointwise_mse", "weighted_ranknet"))


def by_number(checks):
    return {c.number: c for c in checks}


class _Tags(html.parser.HTMLParser):
    """Checks that every opened tag is closed in order (the box must not break the page around it)."""

    VOID = {"br", "hr", "img"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:] or 'nothing'}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> str:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    assert not parser.stack, f"unclosed tags {parser.stack}"
    return "".join(parser.text)


def test_overview_shows_every_figure_as_text_without_nan(checks):
    frame = book.claims_overview(checks)
    assert list(frame.columns) == list(book.OVERVIEW_COLUMNS) and len(frame) == 7
    assert frame["test set"].tolist() == ["trec-dl-2019"] + ["trec-dl-2019 (nDCG@10)"] * 3 + ["trec-dl-2019"] + \
        ["trec-dl-2019 (nDCG@10)"] * 2
    cells = frame.to_numpy().ravel()
    assert all(isinstance(cell, str) and cell for cell in cells)
    assert not any("nan" in cell.lower() or "<na>" in cell.lower() for cell in cells)
    rows = frame.set_index("claim")
    # Claim 2: the paper's effect (.722 -> .738) beside ours; claim 6: the paper quotes no number.
    assert rows.loc["2", "paper's effect"] == "+0.016" and rows.loc["2", "ours"] == "+0.005"
    assert rows.loc["2", "verdict"] == "consistent" and rows.loc["2", "queries needed"] != book.MISSING
    assert rows.loc["6", "paper's effect"] == book.NOT_QUOTED
    assert rows.loc["6", "verdict"] == "not reproduced"  # pointwise MSE is better here
    # Not tested: every figure is the missing mark.
    assert rows.loc["7", "verdict"] == "not tested"
    assert (rows.loc["7", ["ours", "95% CI", "paper's effect", "p", "queries needed"]] == book.MISSING).all()


def test_formatting():
    assert book.format_effect(0.0123) == "+0.012" and book.format_effect(-0.5) == "-0.500"
    assert book.format_effect(None) == book.format_effect(float("nan")) == book.MISSING
    assert book.format_effect(1.25, "ms") == "+1.2 ms"
    assert book.format_ci(-0.01, 0.02) == "[-0.010, +0.020]" and book.format_ci(None, 0.1) == book.MISSING


@pytest.mark.parametrize("verdict", list(Verdict))
def test_every_verdict_has_a_style(verdict):
    (r, g, b), mark = book.STYLE[verdict]
    assert mark and all(0 <= x <= 255 for x in (r, g, b))


def test_box_shows_the_verdict_figures_note_and_collapsible_evidence(checks):
    check = by_number(checks)[2]
    box = book.verdict_box(check, note="Only <54> training queries.")
    assert box._repr_html_() == box.html
    text = parse(box.html)
    assert "Claim 2 (trec-dl-2019, nDCG@10): consistent" in text
    assert check.claim in text and "paper's effect +0.016" in text
    assert f"about {check.queries_needed:,} test queries" in text
    assert "Only <54> training queries." in text and "<54>" not in box.html  # escaped, shown as text
    assert "<details" in box.html and "<summary" in box.html and "Evidence" in text
    assert "nan" not in text.lower()
    assert "kdlib-verdict-consistent" in box.html
    # The comparisons table inside the evidence block: one row per comparison.
    assert box.html.count("<tr>") == 1 + len(check.comparisons)
    assert repr(box).startswith("≈ Claim 2") and "What differs from the paper" in repr(box)


def test_box_of_an_untested_claim_has_no_figures(checks):
    box = book.verdict_box(by_number(checks)[7])
    text = parse(box.html)
    assert "not tested" in text and "ours" not in text and "<table" not in box.html
    assert "dense runs" in text


def test_boxes_take_each_checks_note():
    failed = verdict_of(2, [paired("x", values(0.4), values(0.5))], test_set="a")
    held = verdict_of(3, [paired("x", values(0.6), values(0.5))], test_set="a")
    boxes = book.verdict_boxes([failed, held], {(2, "a"): "the note", (2, "b"): "another test set's"})
    assert "the note" in boxes[0].html and "another" not in boxes[0].html
    assert "What differs" not in boxes[1].html
