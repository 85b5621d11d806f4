"""``kdlib rerank``: the three candidate sources give the same run; hub ids and ir_datasets
work offline from local caches (the miniature MS MARCO, a tiny Hugging Face hub)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from fixtures import hf_hub

from kdlib.cli import main
from kdlib.data import load_dataset, read_run, write_run
from kdlib.eval.measures import evaluate
from kdlib.models import build


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("model") / "bert_dot"
    build("bert_dot", "tiny-random", query_max_len=12, passage_max_len=32).save_pretrained(directory)
    return directory


def _summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_pack_dataset_and_run_file_sources_agree(model_dir, tmp_path, capsys):
    out = tmp_path / "dl19.run"
    argv = ["rerank", "--model", str(model_dir), "--dataset", "trec-dl-2019", "--depth", "5", "--out", str(out),
            "--no-progress", "--precision", "fp32", "--tag", "tiny"]
    assert main(argv) == 0
    summary = _summary(capsys)
    assert summary["queries"] == 43 and summary["pairs"] == 215 and summary["arch"] == "bert_dot"
    assert set(summary["measures"]) == {"nDCG@10", "RR(rel=2)@10", "R(rel=2)@100", "R(rel=2)@1000"}
    dataset = load_dataset("trec-dl-2019")
    run = read_run(out)  # (equal to kdlib.eval.rerank.rerank's run: tests/eval/test_rerank_stream.py)
    assert {q: set(r) for q, r in run.items()} == {
        q: set(sorted(r, key=lambda p: (-r[p], p))[:5]) for q, r in dataset.runs["bm25"].items()}
    assert summary["measures"]["nDCG@10"] == pytest.approx(evaluate(run, dataset.qrels, ["nDCG@10"])["nDCG@10"])
    assert out.read_text().split("\n", 1)[0].endswith(" tiny")

    # The same candidates as files: a TREC run, queries and a collection TSV (with extra passages).
    write_run(dataset.runs["bm25"], tmp_path / "bm25.run", tag="bm25")
    (tmp_path / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in dataset.queries.items()))
    extra = load_dataset("trec-dl-2020").passages
    with open(tmp_path / "collection.tsv", "w") as handle:
        for pid, text in {**dict(list(extra.items())[:500]), **dataset.passages}.items():
            handle.write(f"{pid}\t{text}\n")
    (tmp_path / "qrels.txt").write_text("".join(f"{q} 0 {p} {g}\n" for q, j in dataset.qrels.items() for p, g in j.items()))
    files = ["rerank", "--model", str(model_dir), "--run-file", str(tmp_path / "bm25.run"), "--queries",
             str(tmp_path / "queries.tsv"), "--collection", str(tmp_path / "collection.tsv"), "--qrels",
             str(tmp_path / "qrels.txt"), "--depth", "5", "--out", str(tmp_path / "files.run"), "--no-progress",
             "--precision", "fp32", "--measure", "nDCG@10"]
    assert main(files) == 0
    assert _summary(capsys)["measures"]["nDCG@10"] == pytest.approx(summary["measures"]["nDCG@10"], abs=1e-6)
    from_files = read_run(tmp_path / "files.run")
    assert all(from_files[q] == pytest.approx(run[q], abs=1e-5) for q in run)
    assert main(files[:5] + ["--out", str(tmp_path / "x.run")]) == 2  # --run-file without --queries/--collection
    assert "--queries and --collection" in capsys.readouterr().err


def test_irds_source_on_the_miniature(model_dir, msmarco_mini, tmp_path, capsys):
    out = tmp_path / "dev.run"
    assert main(["rerank", "--model", str(model_dir), "--irds", "msmarco-passage/dev/small", "--depth", "20",
                 "--queries-per-chunk", "5", "--out", str(out), "--no-progress", "--precision", "fp32"]) == 0
    summary = _summary(capsys)
    assert summary["queries"] == len(msmarco_mini.dev_qids) and summary["pairs"] == 20 * len(msmarco_mini.dev_qids)
    assert set(summary["measures"]) == {"RR@10", "R@1000"}  # MSMARCO-DEV's measures, rel=1
    run = read_run(out)
    for qid, scores in run.items():  # the top-20 of the file's (BM25) order, re-scored
        assert set(scores) == set(sorted(msmarco_mini.dl20.runs["bm25"][qid],
                                         key=lambda p: (-msmarco_mini.dl20.runs["bm25"][qid][p], p))[:20])


def test_hub_id_and_ir_datasets_offline_in_a_fresh_process(msmarco_mini, tmp_path):
    """The real command line, configured only through the environment: HF_HOME (a hub cache of
    tiny models in the published layouts), HF_HUB_OFFLINE=1, and IR_DATASETS_HOME (conftest)."""
    home = tmp_path / "hf_home"
    hf_hub.build(home / "hub")
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    out = tmp_path / "dl19.run"
    completed = subprocess.run(
        [sys.executable, "-m", "kdlib", "rerank", "--model", hf_hub.COLBERT, "--irds", "msmarco-passage/trec-dl-2019/judged",
         "--depth", "5", "--out", str(out), "--no-progress", "--precision", "fp32"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout)
    assert summary["arch"] == "colbert" and summary["queries"] == 43 and summary["pairs"] == 215
    assert set(summary["measures"]) == {"nDCG@10", "RR(rel=2)@10", "R(rel=2)@1000"}
