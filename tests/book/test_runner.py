"""The book runner: plan, dry run, failure reporting and unchanged-notebook skipping."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from kdlib import cli
from kdlib.book import runner
from kdlib.core import profiles
from kdlib.core.errors import KdlibError
from kdlib.repro.matrix import matrix_runs


def test_plan_covers_every_notebook_and_the_matrix():
    profile = profiles.load("tiny")
    executions = runner.plan(profile)
    names = [e.notebook for e in executions]
    assert set(names) == {p.stem for p in runner.NOTEBOOK_DIR.glob("*.ipynb")}
    assert names[0] == "01_data" and names[-1] == "05_results"
    # The matrix (the baselines among it) trains in one parallel phase right after the data
    # chapter; the teachers' chapter, which shows the baselines, reads them afterwards.
    assert names[1] == "04_distillation" and names.index("02_teachers") > max(
        i for i, n in enumerate(names) if n == "04_distillation")
    cells = matrix_runs(profile)
    student = profile.student
    expected = (len(student.architectures) * len(student.teachers)
                + len(student.loss_comparison_architectures) * len(student.loss_comparison)
                + len(student.own_teacher_architectures) + len(student.ablation_architectures))
    assert len(cells) == expected == names.count("04_distillation")
    assert {"arch": "tk", "teacher": "baseline", "loss": "ranknet"} in cells
    assert {"arch": "tk", "teacher": "T2", "loss": "margin_mse"} in cells
    assert len({e.output for e in executions}) == len(executions)


def test_msmarco_dry_run_prints_the_plan(capsys):
    assert cli.main(["book", "--profile", "msmarco", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "msmarco-passage/train/triples-small" in out
    assert "bert_cat_ensemble_msmarcopassage_train_scores_ids.tsv" in out
    assert out.count("student ") == len(matrix_runs(profiles.load("msmarco")))
    total = runner.dry_run(profiles.load("msmarco"), log=lambda *_: None)
    assert total > 100  # hundreds of GPU hours at full scale


def test_a_failing_notebook_fails_the_build_with_its_error(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("profile = 'tiny'")
    params.metadata["tags"] = ["parameters"]
    notebook.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('boom in the data chapter')")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "nb").mkdir()
    nbformat.write(notebook, tmp_path / "nb" / "01_data.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", tmp_path / "nb")
    out = tmp_path / "generated"
    with pytest.raises(KdlibError, match=r"01_data failed: RuntimeError: boom in the data chapter"):
        runner.execute(profiles.load("tiny"), only=["01_data"], out_dir=out, log=lambda *_: None)
    assert not (out / "01_data.ipynb").exists()  # no half-built page
    assert (out / "01_data.failed.ipynb").exists()


def test_unchanged_notebooks_rerun_when_their_stage_results_are_gone(tmp_path, monkeypatch):
    """A stamp alone is not enough: deleted artifacts (or another KDLIB_ARTIFACTS) re-execute."""
    import papermill

    calls = []

    def fake_execute(source, output, **kwargs):
        calls.append(output)
        Path(output).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    profile = profiles.load("tiny")
    execution = runner.Execution("01_data", tmp_path / "out" / "01_data.ipynb", {"profile": "tiny"})
    digest = runner._source_digest()

    def run_once():
        return runner._execute_one(execution, profile, digest, False, lambda *_: None)[2]

    assert run_once() is False and len(calls) == 1
    (tmp_path / "artifacts" / "tiny").mkdir(parents=True)
    assert run_once() is True and len(calls) == 1  # unchanged, results present: skipped
    (tmp_path / "artifacts" / "tiny").rmdir()
    assert run_once() is False and len(calls) == 2  # results deleted: executed again
    (tmp_path / "elsewhere" / "tiny").mkdir(parents=True)
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "elsewhere"))
    assert run_once() is False and len(calls) == 3  # another artifact root: executed again


def test_each_distillation_page_is_titled_by_its_cell(tmp_path):
    import nbformat

    from kdlib.book.runner import retitle

    executions = [e for e in runner.plan(profiles.load("tiny"), tmp_path) if e.notebook == "04_distillation"]
    assert len({e.title for e in executions}) == len(executions)
    assert executions[0].title.startswith("Distillation run: ")
    path = tmp_path / "page.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Distillation run\n\nWhat this page shows.")]
    nbformat.write(notebook, path)
    retitle(path, "Distillation run: tk ← T1 (margin_mse)")
    assert nbformat.read(path, as_version=4).cells[0].source == "# Distillation run: tk ← T1 (margin_mse)\n\nWhat this page shows."
    notebook.cells = [nbformat.v4.new_markdown_cell("no heading")]
    nbformat.write(notebook, path)
    with pytest.raises(ValueError, match="no top-level heading"):
        retitle(path, "x")
