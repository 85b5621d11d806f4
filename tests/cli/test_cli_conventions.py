"""CLI conventions: user errors exit 2 with one line that names the fix, never a traceback;
``--version``; ``score --teacher`` takes a training run directory; kdlib's log reaches stderr."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import kdlib
from kdlib.cli import main
from kdlib.core.errors import ConfigError
from kdlib.train.result import find_model_dir

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kdlib {kdlib.__version__}"
    assert kdlib.__version__ == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


USER_ERRORS = {
    "unknown arch": (["train", "--profile", "tiny", "--arch", "bert_dott", "--loss", "margin_mse", "--out", "{tmp}/x"],
                     "did you mean 'bert_dot'"),
    "unknown loss": (["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "typo", "--out", "{tmp}/x"],
                     "choose from 'margin_mse'"),
    "unknown profile": (["train", "--profile", "embeded", "--arch", "bert_dot", "--loss", "ranknet", "--out", "{tmp}/x"],
                        "expected one of ('tiny', 'embedded', 'msmarco') or a YAML file"),
    "bad override": (["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "ranknet", "--out", "{tmp}/x",
                      "--set", "train.max_steps"], "expected KEY=VALUE"),
    "missing teacher file": (["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "margin_mse",
                              "--teacher-scores", "{tmp}/none.tsv", "--out", "{tmp}/x"], "No such file or directory"),
    "unknown dataset": (["eval", "--dataset", "trec-dl-2018", "--run", "bm25"], "did you mean"),
    "unknown measure": (["eval", "--dataset", "trec-dl-2019", "--run", "bm25", "--measure", "nDCG@ten"],
                        "e.g. nDCG@10, RR(rel=2)@10"),
    "unknown stats dataset": (["data", "stats", "--dataset", "dl19"], "choose from 'trec-dl-2019'"),
    "unknown published run": (["score", "--published", "bm24", "--profile", "tiny", "--out", "{tmp}/t.tsv"],
                              "did you mean 'bm25'"),
    "missing teacher dir": (["score", "--teacher", "{tmp}/nothing", "--profile", "tiny", "--out", "{tmp}/t.tsv"],
                            "the --out directory of `kdlib train`"),
    "unknown command": (["trian"], "did you mean 'train'"),
    "book of an unknown profile": (["book", "--profile", "huge", "--dry-run"], "no profile 'huge'"),
}


@pytest.mark.parametrize("case", list(USER_ERRORS))
def test_user_errors_exit_2_with_one_line(case, tmp_path, capsys):
    argv, hint = USER_ERRORS[case]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("kdlib") and "error:" in lines[0] and hint in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_the_console_prints_no_traceback(tmp_path):
    # Through the real entry point (python -m kdlib), as a user runs it.
    for argv in (["train", "--profile", "tiny", "--arch", "bert_dott", "--loss", "typo", "--out", str(tmp_path)],
                 ["score", "--teacher", str(tmp_path), "--profile", "tiny", "--out", str(tmp_path / "t.tsv")]):
        done = subprocess.run([sys.executable, "-m", "kdlib", *argv], capture_output=True, text=True, cwd=ROOT,
                              timeout=300)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def _model(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "kdlib_ranker.json").write_text("{}")
    return directory


def test_find_model_dir_accepts_models_and_training_runs(tmp_path):
    model = _model(tmp_path / "plain")
    assert find_model_dir(model) == model
    # A finished run: the model DONE.json names (best/ when validated), even after the run moved.
    run = tmp_path / "run"
    _model(run / "best")
    _model(run / "final")
    (run / "DONE.json").write_text(json.dumps({"out_dir": "/elsewhere/run", "steps": 4, "finished": True,
                                               "best_dir": "/elsewhere/run/best", "final_dir": "/elsewhere/run/final"}))
    assert find_model_dir(run) == run / "best"
    (run / "DONE.json").write_text(json.dumps({"out_dir": str(run), "steps": 4, "finished": True,
                                               "final_dir": str(run / "final")}))
    assert find_model_dir(run) == run / "final"
    # An unfinished run with a validated model: best/.
    (run / "DONE.json").unlink()
    assert find_model_dir(run) == run / "best"
    # A run that saved nothing yet, and a folder that is neither: the message says what to do.
    started = tmp_path / "started"
    (started / "checkpoint").mkdir(parents=True)
    with pytest.raises(ConfigError, match="running the same `kdlib train` command again"):
        find_model_dir(started)
    with pytest.raises(ConfigError, match="not a training run"):
        find_model_dir(tmp_path / "started" / "checkpoint")


def test_log_messages_reach_stderr(capsys):
    from kdlib.cli.app import configure_logging

    configure_logging()
    logging.getLogger("kdlib.teacher.published").info("published teacher x: 3 of 10 pairs imputed")
    logging.getLogger("kdlib.teacher.examples").warning("2 of 5 lines skipped")
    assert capsys.readouterr().err.splitlines() == [
        "kdlib: published teacher x: 3 of 10 pairs imputed", "kdlib: warning: 2 of 5 lines skipped"]
    configure_logging(quiet=True)
    logging.getLogger("kdlib.eval.rerank").info("not shown")
    assert capsys.readouterr().err == ""
    configure_logging()
