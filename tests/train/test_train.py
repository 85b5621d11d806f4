"""The training loop: it learns, logs, validates and keeps the best model.

Most tests use a tiny bag-of-words ranker implementing the Ranker contract (fast and
fully deterministic); one runs the real ``bert_dot`` on a random tiny encoder.
"""
from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import pytest
import torch

from kdlib.core.profiles import TrainConfig
from kdlib.train import TrainingExample, TrainResult, Validation, train
from kdlib.train.batching import epoch_batches
from kdlib.train.optim import lr_factor

LOG_COLUMNS = {"step", "loss", "lr", "triples_per_s", "mean_pos_score", "mean_neg_score"}


class StandInRanker(torch.nn.Module):
    """A bag-of-words dot-product ranker with the Ranker interface (hashing 'tokenizer')."""

    supports_passage_cache = False

    def __init__(self, vocab: int = 512, dim: int = 16, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.config = {"vocab": vocab, "dim": dim}
        self.emb = torch.nn.Embedding(vocab, dim)
        self.proj = torch.nn.Linear(dim, dim)
        with torch.no_grad():
            self.emb.weight.copy_(torch.randn(vocab, dim, generator=gen) * 0.1)
            self.proj.weight.copy_(torch.randn(dim, dim, generator=gen) * 0.3)
            self.proj.bias.zero_()

    def _ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [[zlib.crc32(w.encode()) % self.config["vocab"] for w in t.lower().split()][:32] or [0] for t in texts]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        mask = torch.zeros(ids.shape)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask

    def tokenize(self, queries, passages):
        q, qm = self._ids(list(queries))
        p, pm = self._ids(list(passages))
        return {"q": q, "qm": qm, "p": p, "pm": pm}

    def _encode(self, ids, mask):
        emb = self.proj(self.emb(ids))
        mask = mask.unsqueeze(-1).to(emb.dtype)
        return (emb * mask).sum(1) / mask.sum(1)

    def forward(self, features):
        return (self._encode(features["q"], features["qm"]) * self._encode(features["p"], features["pm"])).sum(-1) * 10

    def score(self, queries, passages, *, batch_size: int = 64):
        with torch.no_grad():
            return torch.cat([self(self.tokenize(queries[i:i + batch_size], passages[i:i + batch_size])).float()
                              for i in range(0, len(queries), batch_size)])

    def parameter_groups(self, learning_rate, *, tk_learning_rate, tk_kernel_learning_rate):
        return [{"params": list(self.parameters()), "lr": learning_rate}]

    def save_pretrained(self, path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), path / "model.pt")
        (path / "config.json").write_text(json.dumps(self.config))


def ranknet(student: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
    """RankNet on (B, 2) scores, for the stand-in tests (kdlib.losses has the real one)."""
    return torch.nn.functional.softplus(student[:, 1] - student[:, 0]).mean()


ranknet.requires_teacher = False

WORDS = [f"w{i}" for i in range(400)]


def easy_examples(n: int = 160, seed: int = 0) -> list[TrainingExample]:
    """Positives repeat the query's words, negatives are random words: easy to learn."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        query = rng.sample(WORDS, 3)
        pos = query + rng.sample(WORDS, rng.randint(3, 12))
        neg = rng.sample(WORDS, rng.randint(6, 15))
        examples.append(TrainingExample(" ".join(query), " ".join(pos), " ".join(neg)))
    return examples


def easy_dataset(n_queries: int = 6, seed: int = 1):
    """A kdlib Dataset whose bm25 run ranks the relevant passage last."""
    from kdlib.data import Dataset

    rng = random.Random(seed)
    queries, passages, qrels, run = {}, {}, {}, {}
    for q in range(n_queries):
        words = rng.sample(WORDS, 3)
        qid = str(q + 1)
        queries[qid] = " ".join(words)
        pids = [f"{qid}-{i}" for i in range(8)]
        passages[pids[0]] = " ".join(words + rng.sample(WORDS, 5))
        for pid in pids[1:]:
            passages[pid] = " ".join(rng.sample(WORDS, 8))
        qrels[qid] = {pids[0]: 3, pids[1]: 0}
        run[qid] = {pid: float(i) for i, pid in enumerate(pids)}
    return Dataset("easy", queries, passages, qrels, {"bm25": run})


def config(**changes) -> TrainConfig:
    base = dict(batch_size=16, learning_rate=1e-2, max_steps=20, warmup_steps=2, log_every=5,
                checkpoint_every=5, seed=3, num_threads=1)
    base.update(changes)
    return TrainConfig(**base)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_loss_decreases_and_log_has_columns(tmp_path):
    result = train(StandInRanker(), ranknet, easy_examples(), config(max_steps=30), tmp_path, progress=False)
    assert result.finished and result.steps == 30
    rows = read_jsonl(tmp_path / "train_log.jsonl")
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]
    assert all(LOG_COLUMNS <= set(r) for r in rows)
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"]
    assert rows[-1]["mean_pos_score"] - rows[-1]["mean_neg_score"] > rows[0]["mean_pos_score"] - rows[0]["mean_neg_score"]
    assert rows[-1]["lr"] == pytest.approx(0.0)  # linear decay ends at zero
    assert (tmp_path / "final" / "model.pt").is_file()
    assert not (tmp_path / "checkpoint").exists()  # a finished run drops its resumable state


def test_finished_run_is_not_retrained(tmp_path):
    first = train(StandInRanker(), ranknet, easy_examples(), config(max_steps=6), tmp_path, progress=False)
    calls = []
    again = train(StandInRanker(), ranknet, easy_examples(), config(max_steps=6), tmp_path, progress=False,
                  callback=lambda step, row: calls.append(step))
    assert calls == []
    assert isinstance(again, TrainResult) and again.final_loss == first.final_loss


def test_validation_keeps_best_checkpoint(tmp_path):
    validation = Validation(easy_dataset(), depth=8, batch_size=32)
    ranker = StandInRanker()
    before = validation(ranker)
    result = train(ranker, ranknet, easy_examples(), config(max_steps=20, eval_every=5), tmp_path,
                   validation=validation, progress=False)
    rows = read_jsonl(tmp_path / "validation.jsonl")
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert result.best_score == max(r["score"] for r in rows) > before
    assert result.model_dir == tmp_path / "best" and (tmp_path / "best" / "model.pt").is_file()
    best = StandInRanker()
    best.load_state_dict(torch.load(tmp_path / "best" / "model.pt"))
    assert validation(best) == pytest.approx(result.best_score, abs=1e-6)


def test_early_stopping(tmp_path):
    # A zero learning rate never improves: patience 1 stops at the second validation.
    result = train(StandInRanker(), ranknet, easy_examples(), config(max_steps=20, eval_every=2, learning_rate=0.0,
                   early_stopping_patience=1), tmp_path, validation=Validation(easy_dataset(), depth=8), progress=False)
    assert result.stopped_early and result.steps == 4


def test_distillation_loss_needs_teacher_scores(tmp_path):
    from kdlib.train import ExamplesError

    def margin_mse(student, teacher):
        return ((student[:, 0] - student[:, 1]) - (teacher[:, 0] - teacher[:, 1])).pow(2).mean()

    margin_mse.requires_teacher = True
    with pytest.raises(ExamplesError, match="teacher scores"):
        train(StandInRanker(), margin_mse, easy_examples(8), config(max_steps=2), tmp_path, progress=False)


def test_batches_are_deterministic_bucketed_and_complete():
    lengths = [random.Random(i).randint(1, 100) for i in range(100)]
    a = epoch_batches(lengths, 8, seed=1, epoch=0, bucket_batches=4)
    assert a == epoch_batches(lengths, 8, seed=1, epoch=0, bucket_batches=4)
    assert a != epoch_batches(lengths, 8, seed=1, epoch=1, bucket_batches=4)
    flat = [i for batch in a for i in batch]
    assert len(flat) == 96 and len(set(flat)) == 96  # incomplete last batch dropped
    spread_bucketed = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in a)
    spread_random = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b)
                        for b in epoch_batches(lengths, 8, seed=1, epoch=0, bucket_batches=1))
    assert spread_bucketed < spread_random


def test_lr_schedule_shapes():
    kw = dict(warmup_steps=4, max_steps=14)
    assert lr_factor(0, schedule="linear", **kw) == pytest.approx(0.25)
    assert lr_factor(4, schedule="linear", **kw) == pytest.approx(1.0)
    assert lr_factor(9, schedule="linear", **kw) == pytest.approx(0.5)
    assert lr_factor(9, schedule="cosine", **kw) == pytest.approx(0.5)
    assert lr_factor(6, schedule="cosine", **kw) > lr_factor(6, schedule="linear", **kw)
    assert lr_factor(13, schedule="constant", **kw) == 1.0


def test_real_bert_dot_with_margin_mse(tmp_path):
    from kdlib import losses, models

    ranker = models.build("bert_dot", "tiny-random", query_max_len=16, passage_max_len=32, dropout=0.0,
                          attn_implementation="eager")
    rng = random.Random(0)
    examples = [TrainingExample(e.query, e.pos_text, e.neg_text, rng.uniform(2, 4), rng.uniform(-2, 0))
                for e in easy_examples(32)]
    result = train(ranker, losses.get("margin_mse"), examples, config(max_steps=4, batch_size=8, learning_rate=1e-3),
                   tmp_path, validation=Validation(easy_dataset(3), depth=8), progress=False)
    assert result.finished and result.final_loss is not None and result.final_loss == result.final_loss
    reloaded = models.load(tmp_path / "final")
    assert torch.allclose(reloaded.score(["w1 w2"], ["w1 w3"]), ranker.score(["w1 w2"], ["w1 w3"]), atol=1e-4)
