"""Streaming a teacher file (published format) into training examples, texts in batches."""
from __future__ import annotations

import itertools

import pytest

from kdlib.core.errors import FormatError
from kdlib.data import irds, write_teacher_scores
from kdlib.data.teacher_stream import (
    StreamStats,
    irds_training_examples,
    iter_teacher_examples,
    iter_triple_examples,
)
from kdlib.train import TrainingExample


class CountingPassages:
    """A docs-store stand-in that counts its batched and single look-ups."""

    def __init__(self, texts):
        self.texts, self.batches, self.singles = texts, [], 0

    def get_many(self, pids):
        pids = list(pids)
        self.batches.append(len(pids))
        return {p: self.texts[p] for p in pids if p in self.texts}

    def __getitem__(self, pid):
        self.singles += 1
        return self.texts[pid]


def _teacher_file(path, triples):
    records = [(i / 8, -i / 8, q, p, n) for i, (q, p, n) in enumerate(triples)]
    write_teacher_scores(records, path)
    return records


def test_teacher_file_through_the_miniature_docs_store(msmarco_mini, tmp_path):
    path = tmp_path / "T2.tsv"
    records = _teacher_file(path, msmarco_mini.triples)
    queries = irds.load_queries(irds.TRAIN)
    passages = irds.load_irds(irds.TRAIN).passages  # the real ir_datasets docs store
    stats = StreamStats()
    examples = list(iter_teacher_examples(path, queries, passages, batch=100, stats=stats))
    expected = [TrainingExample(queries[q], msmarco_mini.passages[p], msmarco_mini.passages[n], pos, neg)
                for pos, neg, q, p, n in records]
    assert examples == expected
    assert stats == StreamStats(lines=len(records), kept=len(records))
    # Label-only: the official triples streamed from ir_datasets' docpairs.
    label = list(iter_triple_examples(irds.iter_triples(irds.TRAIN), queries, passages, batch=64))
    assert label == [TrainingExample(e.query, e.pos_text, e.neg_text) for e in expected]
    # The one-call entry point: the official triples, or the teacher file, of the train split.
    assert list(irds_training_examples(skip=10, limit=5)) == label[10:15]
    assert list(irds_training_examples(teacher_file=path, skip=3)) == expected[3:]


def test_texts_come_in_batches_and_lines_one_at_a_time(tmp_path):
    texts = {str(i): f"passage {i}" for i in range(50)}
    triples = [(f"q{i % 5}", str(i % 50), str((i * 7) % 50)) for i in range(1000)]
    path = tmp_path / "t.tsv"
    _teacher_file(path, triples)
    with path.open("a") as handle:
        handle.write("this line is malformed\n")
    passages = CountingPassages(texts)
    queries = {f"q{i}": f"query {i}" for i in range(5)}
    stream = iter_teacher_examples(path, queries, passages, batch=64)
    first = list(itertools.islice(stream, 10))  # lazy: the bad last line is not read yet
    assert [e.pos_text for e in first] == [texts[p] for _, p, _ in triples[:10]] and len(passages.batches) == 1
    with pytest.raises(FormatError, match=r"t\.tsv:1001: expected 5 tab-separated columns"):
        list(stream)
    # 15 full batches; the 16th (40 lines) ends at the bad line before its texts are fetched.
    assert len(passages.batches) == 1000 // 64 and passages.singles == 0
    assert max(passages.batches) <= 2 * 64
    # skip / limit select a window of lines (resuming a run that consumed `skip` examples).
    window = list(iter_teacher_examples(path, queries, texts, skip=990, limit=10))
    assert [e.pos_score for e in window] == [i / 8 for i in range(990, 1000)]


def test_unknown_ids_are_counted_or_fatal(tmp_path):
    path = tmp_path / "t.tsv"
    _teacher_file(path, [("q1", "a", "b"), ("q404", "a", "b"), ("q1", "a", "zzz"), ("q1", "b", "a")])
    texts, queries = {"a": "A", "b": "B"}, {"q1": "Q"}
    stats = StreamStats()
    kept = list(iter_teacher_examples(path, queries, texts, stats=stats))
    assert [(e.pos_text, e.neg_text) for e in kept] == [("A", "B"), ("B", "A")]
    assert stats == StreamStats(lines=4, kept=2, missing_query=1, missing_passage=1)
    with pytest.raises(FormatError, match=r"t\.tsv:2: expected ids with text"):
        list(iter_teacher_examples(path, queries, texts, strict=True))
    with pytest.raises(FormatError, match=r"t\.tsv:3:"):
        list(iter_teacher_examples(path, queries, texts, strict=True, skip=2))
