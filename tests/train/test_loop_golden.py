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
