"""Full-scale training sets held by id: the same examples as the in-memory path, texts
fetched one batch at a time, errors that name the file and line."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from kdlib import losses
from kdlib.core.errors import FormatError
from kdlib.core.profiles import TrainConfig
from kdlib.data.formats import TeacherScore, write_teacher_scores
from kdlib.data.id_examples import IdTripleExamples, count_without_teacher, example_lengths
from kdlib.data.triples import Triple
from kdlib.models import build
from kdlib.teacher import read_examples_from_teacher_file
from kdlib.train import ExamplesError, train

QUERIES = {f"q{i}": f"query number {i} about rivers" for i in range(4)}
PASSAGES = {f"p{i}": f"passage {i} " + "water " * (i % 5) for i in range(20)}


class DocsStore(dict):
    """A mapping with ``get_many``, like an ir_datasets docs store; counts the look-ups."""

    calls: list[int]

    def __init__(self, *args):
        super().__init__(*args)
        self.calls = []

    def get_many(self, pids):
        pids = list(pids)
        self.calls.append(len(pids))
        return {p: self[p] for p in pids if p in self}


def teacher_file(tmp_path, lines):
    path = tmp_path / "teacher.tsv"
    write_teacher_scores([TeacherScore(*line) for line in lines], path)
    return path


LINES = [(1.5 + i, -0.5 * i, f"q{i % 4}", f"p{i}", f"p{(i + 7) % 20}") for i in range(12)]


def test_same_examples_as_the_in_memory_path(tmp_path):
    path = teacher_file(tmp_path, LINES)
    store = DocsStore(PASSAGES)
    held = IdTripleExamples.from_teacher_file(path, QUERIES, store, limit=10)
    listed = read_examples_from_teacher_file(path, SimpleNamespace(name="d", queries=QUERIES, passages=PASSAGES), limit=10)
    assert len(held) == 10 and store.calls == []  # nothing fetched while reading the file
    assert [held[i] for i in range(10)] == listed
    assert held.__getitems__([3, 1, 4]) == [listed[3], listed[1], listed[4]]
    assert store.calls[-1] == len({pid for i in (3, 1, 4) for pid in LINES[i][3:]})  # one look-up, distinct ids
    assert count_without_teacher(held) == 0
    # Bucketed like the in-memory examples: the same length proxy, one look-up per window of
    # distinct passages (not one per triple), computed once.
    calls = len(store.calls)
    assert list(example_lengths(held)) == [ex.length() for ex in listed]
    assert store.calls[calls:] == [len({pid for line in LINES[:10] for pid in line[3:]})]
    assert list(example_lengths(held)) == [ex.length() for ex in listed] and len(store.calls) == calls + 1
    # About 40 bytes a triple, whatever the texts weigh.
    arrays = (held.qids, held.pos_pids, held.neg_pids, held.pos_scores, held.neg_scores, held.lines)
    assert sum(a.nbytes for a in arrays) / len(held) < 64


def test_one_lookup_per_batch_in_training(tmp_path):
    store = DocsStore(PASSAGES)
    held = IdTripleExamples.from_teacher_file(teacher_file(tmp_path, LINES), QUERIES, store)
    ranker = build("bert_dot", "tiny-random", query_max_len=8, passage_max_len=12, dropout=0.0)
    config = TrainConfig(batch_size=4, learning_rate=1e-3, max_steps=3, warmup_steps=1, log_every=1,
                         checkpoint_every=0, eval_every=0, num_threads=1)
    result = train(ranker, losses.get("margin_mse"), held, config, tmp_path / "run", progress=False, device="cpu")
    assert result.finished and result.steps == 3
    # One look-up of the distinct passages' lengths up front (bucketing), then one per batch.
    assert len(store.calls) == 1 + 3 and store.calls[0] == len({pid for line in LINES for pid in line[3:]})


def test_label_only_triples_cannot_feed_a_distillation_loss(tmp_path):
    triples = [Triple(f"q{i % 4}", f"p{i}", f"p{i + 1}") for i in range(8)]
    held = IdTripleExamples.from_triples(iter(triples), QUERIES, DocsStore(PASSAGES))
    assert count_without_teacher(held) == 8 and held[0].pos_score is None
    config = TrainConfig(batch_size=4, max_steps=1, warmup_steps=0, checkpoint_every=0, eval_every=0)
    with pytest.raises(ExamplesError, match="needs teacher scores; 8 of 8"):
        train(build("bert_dot", "tiny-random"), losses.get("margin_mse"), held, config, tmp_path, progress=False)


def test_unknown_queries_are_left_out_and_counted(tmp_path, caplog):
    lines = LINES[:4] + [(1.0, 0.0, "q-unknown", "p1", "p2")]
    with caplog.at_level(logging.WARNING):
        held = IdTripleExamples.from_teacher_file(teacher_file(tmp_path, lines), QUERIES, DocsStore(PASSAGES))
    assert len(held) == 4 and "1 of 5 triples left out" in caplog.text
    with pytest.raises(FormatError, match="none usable"):
        IdTripleExamples.from_teacher_file(teacher_file(tmp_path, lines[-1:]), QUERIES, DocsStore(PASSAGES))


def test_a_passage_missing_from_the_collection_names_file_and_line(tmp_path):
    lines = LINES[:3] + [(1.0, 0.0, "q1", "p1", "p-gone")]
    path = teacher_file(tmp_path, lines)
    held = IdTripleExamples.from_teacher_file(path, QUERIES, DocsStore(PASSAGES))
    held.__getitems__([0, 1, 2])
    with pytest.raises(FormatError) as error:
        held.__getitems__([0, 3])
    assert error.value.path == str(path) and error.value.line == 4 and "p-gone" in str(error.value)
