"""The reproduction matrix: a command per row, the check against expected values, and
results.csv that neither loses rows to parallel writers nor shows cells the profile dropped."""
from __future__ import annotations

import multiprocessing
import subprocess
import sys

import pandas as pd
import pytest

from kdlib import repro
from kdlib.core import profiles
from kdlib.repro import check as reproduce


def _frame(rows):
    return pd.DataFrame(rows, columns=["profile", "dataset", "arch", "teacher", "loss", "measure", "value"])


EXPECTED = _frame([
    ("tiny", "trec-dl-2019", "bert_dot", "T2", "margin_mse", "nDCG@10", 0.500),
    ("tiny", "trec-dl-2019", "bert_dot", "baseline", "ranknet", "nDCG@10", 0.400),
    ("tiny", "trec-dl-2019", "bm25", "none", "none", "nDCG@10", 0.450),
])


def test_check_names_every_row_that_differs():
    assert reproduce.check(EXPECTED, EXPECTED) == []
    within = EXPECTED.assign(value=EXPECTED["value"] + 0.009)
    assert reproduce.check(within, EXPECTED) == []
    results = EXPECTED.copy()
    results.loc[0, "value"] = 0.53  # moved by more than the nDCG@10 tolerance
    results = results.drop(index=2)  # BM25 missing
    results.loc[3] = ["tiny", "trec-dl-2019", "tk", "T2", "margin_mse", "nDCG@10", 0.3]  # new
    described = [d.describe() for d in reproduce.check(results, EXPECTED)]
    assert len(described) == 3
    assert any("bert_dot / T2 / margin_mse" in d and "expected 0.5000, got 0.5300" in d for d in described)
    assert any("bm25" in d and "missing" in d for d in described)
    assert any("tk / T2" in d and "not in the expected" in d for d in described)


def test_command_regenerates_the_row():
    assert reproduce.command("embedded", "tk", "T2", "margin_mse") == (
        "papermill notebooks/04_distillation.ipynb out.ipynb -p profile embedded -p arch tk -p teacher T2 -p loss margin_mse")
    assert "02_teachers" in reproduce.command("embedded", "bm25", "none", "none")
    assert "06_efficiency" in reproduce.command("embedded", "tk", "untrained", "none")


def test_kdlib_check_cli(tmp_path, monkeypatch):
    results = tmp_path / "results.csv"
    EXPECTED.to_csv(results, index=False)
    monkeypatch.setattr(reproduce, "EXPECTED_DIR", tmp_path / "expected")
    from kdlib.cli import main

    assert main(["check", "--profile", "tiny", "--results", str(results)]) == 2  # nothing expected yet
    assert main(["check", "--profile", "tiny", "--results", str(results), "--write"]) == 0
    assert main(["check", "--profile", "tiny", "--results", str(results)]) == 0
    EXPECTED.assign(value=EXPECTED["value"] * 0.5).to_csv(results, index=False)
    assert main(["check", "--profile", "tiny", "--results", str(results)]) == 1


def _writer(artifacts: str, arch: str, n: int) -> None:
    import os

    os.environ["KDLIB_ARTIFACTS"] = artifacts
    profile = profiles.load("tiny")
    for i in range(n):
        repro.record_results(profile, [{"dataset": "d", "arch": arch, "teacher": f"t{i}", "loss": "l",
                                              "measure": "m", "value": float(i)}])


def test_parallel_writers_lose_no_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), arch, 15)) for arch in ("a", "b", "c")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    frame = pd.read_csv(tmp_path / "tiny" / "results.csv")
    assert len(frame) == 45


def test_results_show_only_the_profiles_cells(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path))
    profile = profiles.load("tiny")
    rows = [{"dataset": "d", "arch": "bert_dot", "teacher": "T2", "loss": "margin_mse", "measure": "m", "value": 1.0},
            {"dataset": "d", "arch": "bert_dot", "teacher": "T2", "loss": "kl_div", "measure": "m", "value": 1.0},
            {"dataset": "d", "arch": "bm25", "teacher": "none", "loss": "none", "measure": "m", "value": 1.0},
            {"dataset": "d", "arch": "tk", "teacher": "untrained", "loss": "none", "measure": "m", "value": 1.0}]
    repro.record_results(profile, rows)
    shown = repro.results(profile)
    assert set(zip(shown["arch"], shown["loss"])) == {("bert_dot", "margin_mse"), ("bm25", "none"), ("tk", "none")}
    assert len(pd.read_csv(repro.results_path(profile))) == 4  # the file keeps every row


def test_stage_directories_follow_the_code(tmp_path, monkeypatch):
    """A change in code that computes results (a model, a loss) gives every stage a new
    directory; a change in presentation code (plots, claims) does not."""
    import shutil
    from pathlib import Path

    from kdlib.core import artifacts

    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    before = artifacts.stage_dir("p", "student", {"a": 1})
    assert artifacts.stage_dir("p", "student", {"a": 1}) == before
    assert '"code"' in (before / "key.json").read_text()
    monkeypatch.setattr(artifacts, "_FINGERPRINT", ["another-code"])
    assert artifacts.stage_dir("p", "student", {"a": 1}) != before

    copy = tmp_path / "kdlib"
    from kdlib.core.paths import PACKAGE_DIR

    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = artifacts.source_fingerprint(copy)
    (copy / "book" / "plots.py").write_text((copy / "book" / "plots.py").read_text() + "\n# a new figure\n")
    (copy / "book" / "new_page.py").write_text("# a module added to a presentation package\n")
    assert artifacts.source_fingerprint(copy) == original
    (copy / "models" / "tk.py").write_text((copy / "models" / "tk.py").read_text() + "\n# a fix\n")
    assert artifacts.source_fingerprint(copy) != original
