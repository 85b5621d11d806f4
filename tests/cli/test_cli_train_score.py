"""``kdlib score`` and ``kdlib train`` end to end on the ``tiny`` profile."""
from __future__ import annotations

import json

from kdlib.cli import main
from kdlib.data import read_teacher_scores

# One thread: tiny models gain nothing from more, and the test machine is shared.
FAST = ["--set", "train.num_threads=1", "--set", "teacher.own_train.num_threads=1", "--set", "train.max_steps=4"]


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_published_score_train_student_own_teacher_score(tmp_path, capsys):
    t2 = tmp_path / "t2.tsv"
    assert main(["score", "--published", "rep_llama", "--published", "splade_pp", "--profile", "tiny",
                 "--out", str(t2)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out.strip().splitlines()[-1])
    # kdlib's log reaches the user: how many pairs each published teacher imputed.
    assert "kdlib: published teacher rep_llama:" in captured.err and "imputed" in captured.err
    records = list(read_teacher_scores(t2))
    assert report["lines"] == len(records) > 0 and set(report["imputed_pairs"]) == {"rep_llama", "splade_pp"}

    student = tmp_path / "dot_t2"
    assert main(["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "margin_mse", "--teacher-scores",
                 str(t2), "--out", str(student), "--no-progress", *FAST]) == 0
    summary = _last_json(capsys)
    assert summary["finished"] and summary["steps"] == 4
    assert (student / "train_log.jsonl").is_file() and (student / "validation.jsonl").is_file()
    assert (student / "best").is_dir() and (student / "final").is_dir()
    # The baseline trains on the same triples, from labels only.
    baseline = tmp_path / "dot_base"
    assert main(["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "ranknet", "--out", str(baseline),
                 "--no-progress", *FAST]) == 0
    capsys.readouterr()

    teacher = tmp_path / "teacher"
    assert main(["train", "--profile", "tiny", "--role", "teacher", "--out", str(teacher), "--no-progress",
                 *FAST, "--set", "teacher.own_train.max_steps=2"]) == 0
    assert _last_json(capsys)["steps"] == 2
    own = tmp_path / "own.tsv"
    # --teacher takes the directory `kdlib train --out` wrote (it uses the run's model, best/ or final/).
    assert main(["score", "--teacher", str(teacher), "--profile", "tiny", "--out", str(own),
                 "--no-progress"]) == 0
    assert _last_json(capsys)["teachers"][0] in (str(teacher / "best"), str(teacher / "final"))
    own_records = list(read_teacher_scores(own))
    assert [r[2:] for r in own_records] == [r[2:] for r in records]  # same triples as the published teachers
    assert not (tmp_path / "own.tsv.partial").exists()


def test_student_needs_arch_and_loss(tmp_path, capsys):
    assert main(["train", "--profile", "tiny", "--out", str(tmp_path / "x")]) == 2
    assert "--arch" in capsys.readouterr().err


def test_distillation_without_teacher_file_is_refused(tmp_path, capsys):
    assert main(["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "margin_mse", "--out",
                 str(tmp_path / "x"), "--no-progress", *FAST]) == 2
    assert "--teacher-scores" in capsys.readouterr().err
