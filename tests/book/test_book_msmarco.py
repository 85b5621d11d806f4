"""The full-scale book (``--profile msmarco``) on a miniature MS MARCO, shrunk with ``--set``.

The real ``ir_datasets`` code reads the miniature from the tests' ``IR_DATASETS_HOME``
(tests/fixtures/msmarco_mini.py); the published teacher files are downloaded from a loopback
HTTP server and checked against their MD5, as from Zenodo. Only ``--set`` values differ
from a full-scale run: the profile, the stages and the notebooks are those of the paper's setup.
"""
from __future__ import annotations

import hashlib
import time

import nbformat
import pandas as pd
import pytest
from fixtures.msmarco_mini import serve, write_teacher_file

from kdlib.book import runner
from kdlib.core import profiles
from kdlib.data import irds

#: Everything small: tiny random encoders, a few steps, queries and candidates.
SHRINK = [
    "student.encoder.name=tiny-random",
    "teacher.own_encoder.name=tiny-random",
    "student.architectures=[bert_dot]",
    "student.loss_comparison_architectures=[]",
    "student.own_teacher_architectures=[bert_dot]",
    "data.max_queries=6",
    "data.validation_queries=2",
    "data.rerank_depth=8",
    "data.max_train_triples=48",
    "data.query_max_len=16",
    "data.passage_max_len=48",
    "train={num_threads: 1, batch_size: 8, learning_rate: 1.0e-3, max_steps: 4, warmup_steps: 1, eval_every: 2,"
    " log_every: 1, checkpoint_every: 2, precision: fp32}",
    "teacher.own_train={num_threads: 1, batch_size: 8, learning_rate: 1.0e-3, max_steps: 4, warmup_steps: 1,"
    " eval_every: 2, log_every: 1, checkpoint_every: 2, precision: fp32}",
    "eval.batch_size=64",
    "eval.latency_queries=2",
    "eval.latency_repeats=1",
    "eval.dense_corpus=test",
    "eval.dense_index=[Flat]",
]


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture()
def served_teachers(msmarco_mini, tmp_path):
    """T1 and T2 files in the published format, served over loopback HTTP: the ``--set`` values."""
    files = tmp_path / "zenodo"
    t1 = write_teacher_file(msmarco_mini, files / "t1_scores_ids.tsv", seed=1)
    t2 = write_teacher_file(msmarco_mini, files / "t2_scores_ids.tsv", seed=2, spread=0.5)
    with serve(files) as url:
        yield [f"teacher.published_files.T1.url={url}/t1_scores_ids.tsv?download=1",
               f"teacher.published_files.T1.md5={_md5(t1)}",
               f"teacher.published_files.T2.url={url}/t2_scores_ids.tsv?download=1",
               f"teacher.published_files.T2.md5={_md5(t2)}"]


@pytest.mark.slow
def test_msmarco_book_executes_every_notebook_on_the_miniature(served_teachers, tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("KDLIB_TEACHERS", str(tmp_path / "teachers"))
    profile = profiles.apply_overrides(profiles.load("msmarco"), SHRINK + served_teachers)
    generated = tmp_path / "generated"
    start = time.perf_counter()
    timings = runner.execute(profile, jobs=2, out_dir=generated, log=lambda *_: None)
    seconds = time.perf_counter() - start
    assert len(timings) == len(runner.plan(profile, generated)) and not any(c for *_, c in timings)
    assert seconds < 180, f"the miniature msmarco book took {seconds:.0f} s"

    for execution in runner.plan(profile, generated):
        notebook = nbformat.read(execution.output, as_version=4)
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, execution.label
    # The teacher files were downloaded from the server and checked.
    assert sorted(p.name for p in (tmp_path / "teachers").glob("*.tsv")) == ["t1_scores_ids.tsv", "t2_scores_ids.tsv"]

    results = pd.read_csv(tmp_path / "artifacts" / "msmarco" / "results.csv")
    dev = results[results["dataset"] == irds.DEV]
    dl19 = results[results["dataset"] == irds.DL19]
    # MSMARCO-DEV: MRR@10 (rel=1) and R@1000; TREC-DL'19: nDCG@10, MRR@10 and R@1000 at rel=2.
    assert set(dev["measure"]) == {"RR@10", "R@1000"}
    assert set(dl19["measure"]) == {"nDCG@10", "RR(rel=2)@10", "R(rel=2)@1000"}
    students = dev[dev["arch"] == "bert_dot"]  # every row is measured on both test sets, its start too
    assert {(r.teacher, r.loss) for r in students.itertuples()} == {
        ("baseline", "ranknet"), ("T1", "margin_mse"), ("T2", "margin_mse"), ("own", "margin_mse"),
        ("untrained", "none")}
    assert set(dev[dev["arch"] == "bm25"]["measure"]) == {"RR@10", "R@1000"}
    assert results["value"].between(0, 1).all()
    chapter1 = nbformat.read(generated / "01_data.ipynb", as_version=4)
    shown = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                      for c in chapter1.cells for o in c.get("outputs", []))
    assert irds.DEV in shown and irds.DL19 in shown  # MS MARCO's own datasets, not the embedded pack
    assert "matches Pyserini" not in shown and "trec-dl-2020" not in shown
