"""Teacher scores reach the loss the right way round: ``pos_score`` always pairs with ``P+``.

If ``pos_score`` and ``neg_score`` were swapped anywhere between the teacher file and the
loss (reading the file, building examples, collating batches, reshaping scores), Margin-MSE
would distil the teacher backwards and every other test would still pass: the loss is as
small for a mirrored target. The end-to-end test therefore uses a teacher that *disagrees*
with the labels and checks that the student follows the teacher, not the labels.
"""
from __future__ import annotations

import random

import numpy as np

from kdlib import losses
from kdlib.data import Dataset, Triple, read_teacher_scores
from kdlib.teacher import published_teacher_scores, read_examples_from_teacher_file, score_triples
from kdlib.train import TrainingExample, train
from kdlib.train.batching import make_collate
from train.test_train import WORDS, StandInRanker, config


def labelled_dataset(n_queries: int = 24, seed: int = 0) -> tuple[Dataset, list[Triple]]:
    """Each query's positive repeats its words; its negative is random words."""
    rng = random.Random(seed)
    queries, passages, triples = {}, {}, []
    for q in range(n_queries):
        qid, words = f"q{q}", rng.sample(WORDS, 3)
        queries[qid] = " ".join(words)
        passages[f"{qid}-pos"] = " ".join(words + rng.sample(WORDS, 5))
        passages[f"{qid}-neg"] = " ".join(rng.sample(WORDS, 8))
        triples.append(Triple(qid, f"{qid}-pos", f"{qid}-neg"))
    return Dataset("labelled", queries, passages, None, {}), triples


def student_margins(ranker, dataset: Dataset, triples: list[Triple]) -> np.ndarray:
    """``s(Q, P+) - s(Q, P-)`` of each triple, by the ids' texts."""
    queries = [dataset.queries[t.qid] for t in triples]
    pos = ranker.score(queries, [dataset.passages[t.pos_pid] for t in triples])
    neg = ranker.score(queries, [dataset.passages[t.neg_pid] for t in triples])
    return (pos - neg).numpy()


def test_student_follows_a_teacher_that_contradicts_the_labels(tmp_path):
    dataset, triples = labelled_dataset()
    path = tmp_path / "teacher.tsv"
    # Written by hand in the published layout: pos_score, neg_score, qid, pos_pid, neg_pid.
    # The teacher prefers every labelled negative by a margin of 6.
    path.write_text("".join(f"-3.0\t3.0\t{t.qid}\t{t.pos_pid}\t{t.neg_pid}\n" for t in triples))
    examples = read_examples_from_teacher_file(path, dataset)
    ranker = StandInRanker(seed=7)
    before = student_margins(ranker, dataset, triples)
    train(ranker, losses.get("margin_mse"), examples, config(max_steps=40, batch_size=8, bf16=False),
          tmp_path / "run", progress=False)
    after = student_margins(ranker, dataset, triples)
    # Pulled toward the teacher's margin (-6): below where it started, and negative nearly everywhere.
    assert after.mean() < before.mean() - 2
    assert after.mean() < -2 and (after < 0).mean() > 0.9


def test_teacher_file_columns_become_example_scores(tmp_path):
    dataset, triples = labelled_dataset(3)
    path = tmp_path / "t.tsv"
    path.write_text("".join(f"{i}.5\t-{i}.25\t{t.qid}\t{t.pos_pid}\t{t.neg_pid}\n" for i, t in enumerate(triples)))
    for i, (example, t) in enumerate(zip(read_examples_from_teacher_file(path, dataset), triples)):
        assert (example.pos_text, example.neg_text) == (dataset.passages[t.pos_pid], dataset.passages[t.neg_pid])
        assert (example.pos_score, example.neg_score) == (i + 0.5, -(i + 0.25))


def test_collate_puts_the_positive_and_its_score_in_column_zero():
    seen = {}

    def tokenize(queries, passages):
        seen["pairs"] = list(zip(queries, passages))
        return {}

    batch = [TrainingExample("q1", "p1+", "p1-", 2.0, -1.0), TrainingExample("q2", "p2+", "p2-", 0.5, 4.0)]
    out = make_collate(tokenize)(batch)
    # The ranker's (2B,) scores are viewed as (B, 2): pair 2b is column 0 (P+), pair 2b+1 column 1.
    assert seen["pairs"] == [("q1", "p1+"), ("q1", "p1-"), ("q2", "p2+"), ("q2", "p2-")]
    assert out["teacher"].tolist() == [[2.0, -1.0], [0.5, 4.0]]
    assert out["size"] == 2


def test_scored_teacher_file_holds_the_positive_score_first(tmp_path):
    dataset, triples = labelled_dataset(6)
    teacher = StandInRanker(seed=3)
    out = score_triples([teacher], triples, tmp_path / "t.tsv", dataset=dataset, batch_size=4, bf16=False,
                        progress=False)
    rows = list(read_teacher_scores(out))
    queries = [dataset.queries[t.qid] for t in triples]
    pos = teacher.score(queries, [dataset.passages[t.pos_pid] for t in triples])
    neg = teacher.score(queries, [dataset.passages[t.neg_pid] for t in triples])
    np.testing.assert_allclose([r.pos_score for r in rows], pos.numpy(), atol=1e-5)
    np.testing.assert_allclose([r.neg_score for r in rows], neg.numpy(), atol=1e-5)
    assert not np.allclose(pos.numpy(), neg.numpy())


def test_published_teacher_keeps_pos_and_neg_apart():
    dataset, triples = labelled_dataset(2)
    run = {t.qid: {t.pos_pid: 1.0 + i, t.neg_pid: 5.0 + i} for i, t in enumerate(triples)}
    dataset = Dataset(dataset.name, dataset.queries, dataset.passages, None, {"r": run})
    records = published_teacher_scores(dataset, triples, ["r"], normalisation="none")
    assert [(r.pos_score, r.neg_score) for r in records] == [(1.0, 5.0), (2.0, 6.0)]
