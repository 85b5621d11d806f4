"""``kdlib data`` and ``kdlib eval`` called in-process through ``kdlib.cli.main``."""
from __future__ import annotations

from kdlib.cli import main
from kdlib.data import pack


def test_data_check(capsys):
    assert main(["data", "check"]) == 0
    out = capsys.readouterr().out
    assert "473 files, checksums OK" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("trec-dl-", "msmarco-"))}
    assert rows["trec-dl-2019"][1:5] == ["43", "43", "10852", "9260"]
    assert rows["trec-dl-2021"][-1] == "splade_pp"
    assert rows["trec-dl-2022"][2] == "0" and "splade_pp" in rows["trec-dl-2022"][-1]
    assert rows["msmarco-dev-sample"][1:] == ["450", "450", "8855", "450", "bm25"]


def test_data_fetch_from_folder(tmp_path, capsys):
    dest = tmp_path / "pack"
    assert main(["data", "fetch", "--from", str(pack.pack_dir()), "--dest", str(dest)]) == 0
    assert "473 files verified" in capsys.readouterr().out
    assert (dest / "qrels" / "qrels.dl20-passage.txt").is_file()
    assert main(["data", "fetch", "--from", str(tmp_path / "none"), "--dest", str(tmp_path / "x")]) == 2
    assert "not found in --from folder" in capsys.readouterr().err


def test_eval_dataset_runs(capsys):
    assert main(["eval", "--dataset", "trec-dl-2019", "--run", "bm25", "--measure", "nDCG@10"]) == 0
    out = capsys.readouterr().out
    assert "nDCG@10" in out and "bm25" in out and "0.5058" in out
    # The dev sample is measured with its own measures (MRR@10, rel >= 1), as SOURCES.md gives it.
    assert main(["eval", "--dataset", "msmarco-dev-sample", "--run", "bm25"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["RR@10", "R@20"] and row.split()[:2] == ["bm25", "0.3670"]


def test_eval_files_per_query_and_errors(tmp_path, capsys):
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 2\nq2 0 d2 2\n")
    run = tmp_path / "my.run"
    run.write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d3 2 1.0 t\nq2 Q0 d3 1 1.0 t\nq2 Q0 d2 2 0.5 t\n")
    argv = ["eval", "--run", str(run), "--qrels", str(qrels), "--measure", "RR(rel=2)@10", "--per-query"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0.7500" in out and "# per query" in out and "0.5000" in out
    run.write_text("q1 Q0 d1 1 high t\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "my.run:1" in err and "numeric score" in err
    assert main(["eval", "--run", "nope", "--dataset", "trec-dl-2019"]) == 2
    assert "not a file or one of" in capsys.readouterr().err
    assert main(["eval", "--run", "bm25", "--dataset", "trec-dl-2022"]) == 2
    assert "no judgements" in capsys.readouterr().err
