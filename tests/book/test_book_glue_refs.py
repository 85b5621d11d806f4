"""Glue references across documents need an explicit format.

myst-nb reads ``{glue:text}`path::key:format``` by splitting at the *last* colon, so
``path::key`` without a format takes the key for a format and finds nothing: the page shows an
empty gap where a number should be (the build only warns).
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"\{glue:text\}`([^`]*)`")


def test_every_cross_document_glue_reference_has_a_format():
    pages = [*ROOT.glob("book/*.md"), *ROOT.glob("notebooks/*.ipynb"), ROOT / "README.md"]
    broken = []
    for page in pages:
        for ref in REFERENCE.findall(page.read_text()):
            _, sep, key = ref.partition("::")
            if sep and ":" not in key:
                broken.append(f"{page.relative_to(ROOT)}: {ref} (add :s or a number format)")
    assert not broken, "\n".join(broken)
