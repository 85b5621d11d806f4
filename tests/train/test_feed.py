"""The pre-tokenised feed gives the loop exactly the micro-batches the collating one gives:
the same tensors, teacher scores and sizes, step by step, whatever the windows, ranks,
gradient accumulation or background tokenisation."""
from __future__ import annotations

import random

import pytest
import torch

from kdlib.data.id_examples import IdTripleExamples
from kdlib.models import build
from kdlib.train import TrainingExample
from kdlib.train.batching import StepSchedule
from kdlib.train.feed import CollatingFeed, PreTokenizedFeed, make_feed
from kdlib.train.host_memory import keep_freed_memory
from test_train import StandInRanker, easy_examples


def scored(examples, *, missing_at=()):
    rng = random.Random(0)
    return [TrainingExample(e.query, e.pos_text, e.neg_text, *((None, None) if i in missing_at else
                                                             (rng.gauss(2, 1), rng.gauss(-1, 1))))
            for i, e in enumerate(examples)]


def assert_same_micro_batches(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a["size"] == b["size"]
        assert a["features"].keys() == b["features"].keys()
        for key in b["features"]:
            assert torch.equal(a["features"][key], b["features"][key]), key
        assert (a["teacher"] is None) == (b["teacher"] is None)
        if b["teacher"] is not None:
            assert a["teacher"].dtype == b["teacher"].dtype and torch.equal(a["teacher"], b["teacher"])


@pytest.mark.parametrize("arch", ["bert_cat", "bert_dot", "tk"])
@pytest.mark.parametrize("rank, world_size, grad_accum", [(0, 1, 1), (1, 2, 2)])
@pytest.mark.parametrize("prefetch", [False, True])
def test_pre_tokenised_micro_batches_equal_the_collated_ones(arch, rank, world_size, grad_accum, prefetch):
    ranker = build(arch, "tiny-random", query_max_len=5, passage_max_len=9)
    # Two epochs of 40 triples in batches of 8; the last two lack teacher scores (those batches
    # get teacher=None); windows of 3 steps, so the feed re-tokenises mid-epoch.
    examples = scored(easy_examples(40, seed=2), missing_at={38, 39})

    def schedule():
        return StepSchedule([e.length() for e in examples], 8, seed=5, start_step=2, max_steps=10,
                            grad_accum=grad_accum, rank=rank, world_size=world_size)

    ours = PreTokenizedFeed(ranker, examples, schedule(), prefetch=prefetch, window_triples=24)
    theirs = CollatingFeed(ranker.tokenize, examples, schedule(), pin_memory=False)
    try:
        for step in range(3, 11):
            assert_same_micro_batches(ours.micro_batches(step), theirs.micro_batches(step))
    finally:
        ours.close()


def test_the_feed_that_applies():
    schedule = StepSchedule([1] * 8, 4, seed=0, start_step=0, max_steps=2)
    cpu = torch.device("cpu")
    examples = easy_examples(8)
    assert isinstance(make_feed(build("bert_dot", "tiny-random"), examples, schedule, device=cpu), PreTokenizedFeed)
    # A ranker without the pieces layout, and triples whose texts are fetched per batch, are collated.
    assert isinstance(make_feed(StandInRanker(), examples, schedule, device=cpu), CollatingFeed)
    held = IdTripleExamples.__new__(IdTripleExamples)
    assert isinstance(make_feed(build("bert_dot", "tiny-random"), held, schedule, device=cpu), CollatingFeed)
    # A ranker class that brings its own tokenize is collated through it, not laid out from pieces.
    custom = build("bert_cat", "tiny-random")
    custom.__class__ = type("OwnTokenize", (type(custom),), {"tokenize": lambda self, q, p: {}})
    assert isinstance(make_feed(custom, examples, schedule, device=cpu), CollatingFeed)


def test_keep_freed_memory_is_idempotent():
    first = keep_freed_memory()
    assert isinstance(first, bool) and keep_freed_memory() is first


def test_runs_with_dropout_draw_the_same_random_numbers_as_with_the_collating_feed(tmp_path, monkeypatch):
    from kdlib import losses
    from kdlib.core.profiles import TrainConfig
    from kdlib.train import feed, train
    from test_train import read_jsonl

    def run(out):
        torch.manual_seed(0)
        ranker = build("bert_dot", "tiny-random", query_max_len=6, passage_max_len=10, dropout=0.3)
        config = TrainConfig(batch_size=8, learning_rate=1e-3, max_steps=4, warmup_steps=1, log_every=1,
                             checkpoint_every=0, precision="fp32", bf16=False, num_threads=1)
        train(ranker, losses.get("margin_mse"), scored(easy_examples(32)), config, out, progress=False, device="cpu")
        return [row["loss"] for row in read_jsonl(out / "train_log.jsonl")]

    pre_tokenised = run(tmp_path / "pre")
    monkeypatch.setattr(feed, "PreTokenizedFeed", lambda ranker, examples, schedule, **_: CollatingFeed(
        ranker.tokenize, examples, schedule, pin_memory=False))
    assert run(tmp_path / "collated") == pre_tokenised
