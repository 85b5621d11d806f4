"""The training loop's numbers stay put: a speed change must not change what is learned.

Losses of a short fp32 run at a fixed seed, recorded from the loop before the word-piece memo
(``kdlib.models.base.Ranker.word_pieces``) was added and unchanged by it. A change to the loop,
the batching or the models that alters them fails here; if the change is meant to alter the
numbers, re-record them and say why in the commit.
"""
from __future__ import annotations

import random

import pytest
import torch

from kdlib import losses
from kdlib.models import build
from kdlib.train import TrainingExample, train
from test_train import config, easy_examples, read_jsonl

RECORDED = {
    "bert_dot": [12.813234, 14.144965, 12.794111, 14.156834],
    "bert_cat": [12.813898, 14.144495, 12.789432, 14.150437],
    "tk": [11.614344, 12.511753, 11.286641, 12.25583],
}


@pytest.mark.parametrize("arch", sorted(RECORDED))
def test_fp32_losses_match_the_recorded_run(arch, tmp_path):
    rng = random.Random(0)
    examples = [TrainingExample(e.query, e.pos_text, e.neg_text, rng.gauss(2, 1), rng.gauss(-1, 1))
                for e in easy_examples(64)]
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=12, passage_max_len=24, dropout=0.0)
    train(ranker, losses.get("margin_mse"), examples,
          config(max_steps=8, log_every=2, learning_rate=1e-3, precision="fp32", bf16=False, checkpoint_every=0),
          tmp_path, progress=False, device="cpu")
    logged = [row["loss"] for row in read_jsonl(tmp_path / "train_log.jsonl")]
    assert logged == pytest.approx(RECORDED[arch], rel=1e-4)


# -- every architecture, dropout, accumulation, validation, labels only ----------------------
# The cases below extend the three above to all five architectures and to the paths a change
# of the loop's plumbing could shift without touching the models: dropout (its random numbers
# come from torch's global generator, which anything drawing from it before the steps moves),
# gradient accumulation with a log row over several steps, validation between steps, and a
# label-only loss (no teacher scores). Their numbers (every log row's loss and mean scores,
# and the trained model's scores on fixed pairs) were recorded by running main's loop, never
# the code under test, into tests/fixtures/loop_golden.json:
#
#     PYTHONPATH=.:tests/train python tests/train/test_loop_golden.py --record
#
# Re-record only when a change is meant to alter what is learned, and say why in the commit.

import json  # noqa: E402
from pathlib import Path  # noqa: E402

GOLDEN_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "loop_golden.json"
ARCHS = ("bert_cat", "bert_dot", "colbert", "prett", "tk")
#: Pairs the trained model scores (fp32, eval mode): its weights in a few numbers.
PROBE_QUERIES = ["w1 w2 w3", "w7 w300", "", "w42"]
PROBE_PASSAGES = ["w1 w2 w3 w9 w10", "w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20 w21 w22 w23 w24 w25",
                  "w5", ""]


def _cases() -> dict[str, dict]:
    cases = {f"{arch}-dropout0": {"arch": arch, "dropout": 0.0} for arch in ARCHS}
    cases.update({f"{arch}-dropout0.3": {"arch": arch, "dropout": 0.3} for arch in ARCHS})
    cases["bert_dot-accum2-validation"] = {"arch": "bert_dot", "dropout": 0.1, "grad_accum": 2, "log_every": 3,
                                           "eval_every": 4}
    cases["bert_cat-ranknet-labels"] = {"arch": "bert_cat", "dropout": 0.0, "loss": "ranknet"}
    return cases


CASES = _cases()


def run_case(case: dict, out: Path) -> dict:
    """Train the case's ranker for 8 fp32 steps; returns what the fixture records."""
    from kdlib.train import Validation
    from test_train import easy_dataset

    rng = random.Random(0)
    labels_only = case.get("loss") == "ranknet"
    examples = [TrainingExample(e.query, e.pos_text, e.neg_text,
                                *((None, None) if labels_only else (rng.gauss(2, 1), rng.gauss(-1, 1))))
                for e in easy_examples(64)]
    torch.manual_seed(0)
    ranker = build(case["arch"], "tiny-random", query_max_len=12, passage_max_len=24, dropout=case["dropout"])
    validation = Validation(easy_dataset(3), depth=8) if case.get("eval_every") else None
    train(ranker, losses.get(case.get("loss", "margin_mse")), examples,
          config(max_steps=8, log_every=case.get("log_every", 2), learning_rate=1e-3, precision="fp32", bf16=False,
                 checkpoint_every=0, grad_accum=case.get("grad_accum", 1), eval_every=case.get("eval_every", 0)),
          out, validation=validation, progress=False, device="cpu")
    rows = read_jsonl(out / "train_log.jsonl")
    recorded = {
        "train": [[r["step"], r["loss"], r["mean_pos_score"], r["mean_neg_score"]] for r in rows],
        "scores": ranker.score(PROBE_QUERIES, PROBE_PASSAGES).tolist(),
    }
    if validation is not None:
        recorded["validation"] = [[r["step"], r["score"]] for r in read_jsonl(out / "validation.jsonl")]
    return recorded


def _golden() -> dict:
    return json.loads(GOLDEN_FILE.read_text())["cases"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fp32_run_matches_the_recorded_one(name, tmp_path):
    expected = _golden()[name]
    ours = run_case(CASES[name], tmp_path)
    assert [row[0] for row in ours["train"]] == [row[0] for row in expected["train"]]
    # Bit for bit on the machine that recorded them; the tolerance only absorbs another
    # CPU's summation order, far below what a changed batch or random draw moves.
    for got, want in zip(ours["train"], expected["train"]):
        assert got[1:] == pytest.approx(want[1:], rel=1e-5, abs=1e-7), f"{name}, step {got[0]}"
    assert ours["scores"] == pytest.approx(expected["scores"], rel=1e-5, abs=1e-6), name
    assert ours.get("validation") == expected.get("validation"), name


if __name__ == "__main__":
    import subprocess
    import sys
    import tempfile

    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: PYTHONPATH=.:tests/train python tests/train/test_loop_golden.py --record")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    results = {}
    for case_name, spec in CASES.items():
        with tempfile.TemporaryDirectory() as directory:
            results[case_name] = run_case(spec, Path(directory))
        print(case_name, results[case_name]["train"][-1])
    GOLDEN_FILE.write_text(json.dumps({
        "note": "Recorded by tests/train/test_loop_golden.py --record from the loop at commit "
                f"{commit} (fp32, CPU, torch {torch.__version__}); rows are [step, loss, mean_pos_score, "
                "mean_neg_score]; scores are the trained model's on the probe pairs.",
        "cases": results,
    }, indent=1) + "\n")
