"""Integration: every notebook executes through papermill on the tiny profile, the book builds,
and a second run with nothing changed executes nothing."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from kdlib.book import runner
from kdlib.core import profiles
from kdlib.core.paths import REPO_ROOT
from kdlib.repro.matrix import matrix_runs


@pytest.mark.slow
def test_tiny_book_executes_every_notebook_and_builds(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    root = tmp_path / "book-root"
    (root / "book").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO_ROOT / name, root / name)
    for page in (REPO_ROOT / "book").glob("*.*"):
        shutil.copy(page, root / "book" / page.name)
    profile = profiles.load("tiny")
    generated = root / "book" / "generated"

    timings = runner.execute(profile, jobs=2, out_dir=generated, log=lambda *_: None)
    assert len(timings) == len(runner.plan(profile)) and not any(cached for *_, cached in timings)

    # Each executed notebook carries its papermill parameters and has no error output.
    for execution in runner.plan(profile, generated):
        notebook = nbformat.read(execution.output, as_version=4)
        outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.get("output_type") == "error"], execution.label
        injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and "profile" in injected[0].source

    # Chapters with figures show them (kdlib.book.plots returns figures; the notebook displays them).
    for name in ("01_data", "02_teachers", "03_score_distributions", "05_results", "06_efficiency"):
        assert "image/png" in (generated / f"{name}.ipynb").read_text(), f"{name} shows no figure"

    results = pd.read_csv(tmp_path / "artifacts" / "tiny" / "results.csv")
    cells = matrix_runs(profile)
    students = results[results["arch"].isin(profile.student.architectures)]
    trained = students[students["teacher"] != "untrained"]
    assert len(trained.groupby(["arch", "teacher", "loss"])) == len(cells)
    # Every student's starting point and BM25 are rows, so a reader sees whether training helped.
    untrained = students[students["teacher"] == "untrained"]
    assert set(untrained["arch"]) == set(profile.student.architectures) and set(untrained["loss"]) == {"none"}
    assert "bm25" in set(results["arch"])
    claims_csv = pd.read_csv(tmp_path / "artifacts" / "tiny" / "claims.csv")
    # One row per claim and test set (data.test, then every data.eval_datasets dataset).
    test_sets = [profile.data.test, *profile.data.eval_datasets]
    assert list(claims_csv["number"]) == list(range(1, 8)) * len(test_sets)
    assert list(dict.fromkeys(claims_csv["test_set"])) == test_sets
    # The tiny book reproduces the committed expected values (`kdlib check --profile tiny`).
    from kdlib.repro import check as reproduce

    differences = reproduce.check(results, pd.read_csv(reproduce.expected_path("tiny")))
    assert not differences, "\n".join(d.describe() for d in differences)
    assert {"nDCG@10", "RR(rel=2)@10", "R(rel=2)@100"} <= set(results["measure"])
    assert results["value"].between(0, 1).all()

    results_page = nbformat.read(generated / "05_results.ipynb", as_version=4)
    text = "\n".join(str(o.get("text", "")) for c in results_page.cells for o in c.get("outputs", []))
    assert "tested claims reproduced" in text
    # The verdicts are boxes (HTML the book copies as is), not printed text.
    assert "kdlib-verdict" in (generated / "05_results.ipynb").read_text()

    html = runner.build_book(root, quiet=True)
    for page in ("book/intro", "book/generated/01_data", "book/generated/05_results", "book/api"):
        assert (html / f"{page}.html").is_file(), page
    assert len(list((html / "book" / "generated" / "distillation").glob("*.html"))) == len(cells)

    again = runner.execute(profile, jobs=2, out_dir=generated, log=lambda *_: None)
    assert all(cached for *_, cached in again)
