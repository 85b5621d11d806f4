"""The command line under torchrun: 2 gloo processes on CPU score and train like one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kdlib.data import read_teacher_scores

BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str]) -> str:
    completed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    return completed.stdout


@pytest.mark.slow
def test_torchrun_scoring_and_training(tmp_path):
    env = {**os.environ, "KDLIB_ARTIFACTS": str(tmp_path / "artifacts"), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    kdlib = [sys.executable, "-m", "kdlib"]
    torchrun = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "kdlib"]

    summary = _run(kdlib + ["train", "--profile", "tiny", "--role", "teacher", "--out", str(tmp_path / "teacher"),
                            "--no-progress"], env)
    teacher = json.loads(summary.strip().splitlines()[-1])["model_dir"]

    single, sharded = tmp_path / "single.tsv", tmp_path / "sharded.tsv"
    _run(kdlib + ["score", "--teacher", teacher, "--profile", "tiny", "--out", str(single), "--no-progress"], env)
    _run(torchrun + ["score", "--teacher", teacher, "--profile", "tiny", "--out", str(sharded), "--no-progress"], env)
    one, two = list(read_teacher_scores(single)), list(read_teacher_scores(sharded))
    assert [r[2:] for r in one] == [r[2:] for r in two]  # same triples, same order
    # Same model and inputs; only the batch composition (padding) can differ between runs.
    assert max(abs(a.pos_score - b.pos_score) + abs(a.neg_score - b.neg_score) for a, b in zip(one, two)) < 0.05

    out = tmp_path / "ddp-student"
    _run(torchrun + ["train", "--profile", "tiny", "--arch", "bert_dot", "--loss", "margin_mse",
                     "--teacher-scores", str(single), "--out", str(out), "--no-progress"], env)
    assert (out / "DONE.json").is_file()
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log and all(row["loss"] == row["loss"] for row in log)  # logged, and no NaN
