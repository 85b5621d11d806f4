"""Checkpoint and resume: an interrupted run (even ``kill -9``) ends exactly like an
uninterrupted one; a non-finite loss stops with the step named and the last good
checkpoint kept."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from kdlib.train import NonFiniteLossError, Validation, train
from test_train import StandInRanker, config, easy_dataset, easy_examples, ranknet

STEPS = 12


def _run(out: Path, **kwargs):
    return train(StandInRanker(), ranknet, easy_examples(), config(max_steps=STEPS, checkpoint_every=4, log_every=2,
                 eval_every=3), out, validation=Validation(easy_dataset(), depth=8), progress=False, **kwargs)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "final" / "model.pt")


def _losses(out: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (out / "train_log.jsonl").read_text().splitlines())]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    _run(out)
    return out


def _assert_same_run(out: Path, reference: Path) -> None:
    a, b = _weights(out), _weights(reference)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    ours, theirs = _losses(out), _losses(reference)
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    assert [v for _, v in ours] == pytest.approx([v for _, v in theirs], abs=1e-6)
    assert (out / "validation.jsonl").read_text().count("\n") == (reference / "validation.jsonl").read_text().count("\n")


def test_session_stop_then_resume_equals_uninterrupted(tmp_path, reference):
    partial = _run(tmp_path, max_steps_this_session=6)  # checkpoint at 4, stopped at 6 (2 steps lost)
    assert not partial.finished and (tmp_path / "checkpoint" / "state.json").is_file()
    resumed = _run(tmp_path)
    assert resumed.finished and resumed.resumed_from == 4
    _assert_same_run(tmp_path, reference)


def test_kill_9_then_resume_equals_uninterrupted(tmp_path, reference):
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        import test_resume
        def die(step, row):
            if step == 10:
                os.kill(os.getpid(), signal.SIGKILL)
        test_resume._run(Path({str(tmp_path)!r}), callback=die)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert not (tmp_path / "DONE.json").exists()
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 8
    resumed = _run(tmp_path)
    assert resumed.resumed_from == 8
    _assert_same_run(tmp_path, reference)


def test_nan_loss_stops_with_step_and_keeps_checkpoint(tmp_path):
    calls = {"n": 0}

    def exploding(student, teacher=None):
        calls["n"] += 1
        value = ranknet(student)
        return value * float("nan") if calls["n"] == 7 else value

    exploding.requires_teacher = False
    with pytest.raises(NonFiniteLossError, match="step 7"):
        train(StandInRanker(), exploding, easy_examples(), config(max_steps=STEPS, checkpoint_every=4), tmp_path,
              progress=False)
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4
    assert not (tmp_path / "DONE.json").exists()
