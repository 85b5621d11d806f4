"""Training triples held by id: the full-scale training set without its texts in memory.

The paper's students train on up to 40M MS MARCO triples (the published teacher files score
all of them). As :class:`~kdlib.data.examples.TrainingExample` objects with their texts,
16M triples take about 16 GB and hours of look-ups before the first step. An
:class:`IdTripleExamples` keeps only ids and teacher scores in numpy arrays (about 40 bytes a
triple) and fetches the texts of one batch at a time, with a single ``get_many`` call on the
docs store, when the training loop's DataLoader asks for it (``__getitems__``).

Length bucketing needs each example's length: :meth:`IdTripleExamples.lengths` computes the
same proxy as :meth:`TrainingExample.length` once, from the texts of the distinct passages
fetched in windows (a pass over the collection's used passages, not one look-up per triple),
and keeps only the lengths, so id-held triples are bucketed like in-memory ones.
"""
from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Sequence
from typing import Any, Iterable, Mapping

import numpy as np

from kdlib.core.errors import FormatError
from kdlib.data.examples import TrainingExample

log = logging.getLogger(__name__)

#: Records converted to numpy arrays at a time while reading (bounds the transient lists).
CHUNK = 1_000_000
#: Distinct passages whose texts are fetched at once while lengths are computed.
LENGTH_WINDOW = 65_536


class IdTripleExamples(Sequence):
    """A sequence of :class:`TrainingExample` whose texts are fetched when indexed.

    Args:
        qids, pos_pids, neg_pids: aligned id arrays (bytes or str).
        pos_scores, neg_scores: aligned teacher scores, or ``None`` for label-only triples.
        queries: ``qid -> text`` (in memory: MS MARCO has 500K training queries).
        passages: ``pid -> text``; a docs store's ``get_many`` serves a whole batch at once.
        source: named in errors (the teacher file, or ``triples``).
        lines: the 1-based source line of each triple, for errors.
    """

    def __init__(self, qids: np.ndarray, pos_pids: np.ndarray, neg_pids: np.ndarray,
                 pos_scores: np.ndarray | None, neg_scores: np.ndarray | None, *,
                 queries: Mapping[str, str], passages: Any, source: str = "triples",
                 lines: np.ndarray | None = None) -> None:
        n = len(qids)
        if not (len(pos_pids) == len(neg_pids) == n):
            raise ValueError(f"id arrays differ in length: {n}, {len(pos_pids)}, {len(neg_pids)}")
        if (pos_scores is None) != (neg_scores is None):
            raise ValueError("give both teacher score arrays or neither")
        self.qids, self.pos_pids, self.neg_pids = qids, pos_pids, neg_pids
        self.pos_scores, self.neg_scores = pos_scores, neg_scores
        self.queries, self.passages, self.source = queries, passages, source
        self.lines = lines if lines is not None else np.arange(1, n + 1, dtype=np.int64)
        self._lengths: np.ndarray | None = None

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_teacher_file(cls, path: str | os.PathLike, queries: Mapping[str, str], passages: Any, *,
                          limit: int | None = None) -> "IdTripleExamples":
        """The first ``limit`` lines of a teacher file (published format), streamed.

        Lines whose query is unknown are left out and counted in a warning (as
        :func:`kdlib.teacher.read_examples_from_teacher_file` does); passages are checked when
        their batch is fetched.

        Raises:
            FormatError: a malformed line (file and line named), or no line with a known query.
        """
        from kdlib.data.formats import read_teacher_scores

        records = itertools.islice(enumerate(read_teacher_scores(path), start=1), limit)
        return cls._collect(records, queries, passages, source=os.fspath(path), scored=True)

    @classmethod
    def from_triples(cls, triples: Iterable[Any], queries: Mapping[str, str], passages: Any) -> "IdTripleExamples":
        """Label-only triples (``qid``, ``pos_pid``, ``neg_pid``), streamed (e.g. MS MARCO's official
        ``triples-small`` through :func:`kdlib.data.irds.iter_triples`)."""
        return cls._collect(enumerate(triples, start=1), queries, passages, source="triples", scored=False)

    @classmethod
    def _collect(cls, numbered: Iterable[tuple[int, Any]], queries: Mapping[str, str], passages: Any, *,
                 source: str, scored: bool) -> "IdTripleExamples":
        columns: dict[str, list[np.ndarray]] = {k: [] for k in ("qid", "pos", "neg", "pos_score", "neg_score", "line")}
        unknown = total = 0
        numbered = iter(numbered)
        while True:
            chunk = list(itertools.islice(numbered, CHUNK))
            if not chunk:
                break
            total += len(chunk)
            kept = [(line, r) for line, r in chunk if r.qid in queries]
            unknown += len(chunk) - len(kept)
            if not kept:
                continue
            columns["qid"].append(np.array([r.qid.encode() for _, r in kept], dtype=np.bytes_))
            columns["pos"].append(np.array([r.pos_pid.encode() for _, r in kept], dtype=np.bytes_))
            columns["neg"].append(np.array([r.neg_pid.encode() for _, r in kept], dtype=np.bytes_))
            columns["line"].append(np.array([line for line, _ in kept], dtype=np.int64))
            if scored:
                columns["pos_score"].append(np.array([r.pos_score for _, r in kept], dtype=np.float32))
                columns["neg_score"].append(np.array([r.neg_score for _, r in kept], dtype=np.float32))
        if not columns["qid"]:
            raise FormatError(source, 0, "at least one triple whose query is a training query",
                              f"{total} triples, none usable")
        if unknown:
            log.warning("%s: %d of %d triples left out (query not among the training queries)", source, unknown, total)

        def joined(name: str) -> np.ndarray:
            return np.concatenate(columns[name])

        return cls(joined("qid"), joined("pos"), joined("neg"),
                   joined("pos_score") if scored else None, joined("neg_score") if scored else None,
                   queries=queries, passages=passages, source=source, lines=joined("line"))

    # -- the Sequence the training loop reads -------------------------------------------
    def __len__(self) -> int:
        return len(self.qids)

    def __getitem__(self, index: int) -> TrainingExample:  # type: ignore[override]
        if isinstance(index, slice):
            raise TypeError("IdTripleExamples does not slice; index it with integers")
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[TrainingExample]:
        """The examples at ``indices``, with one passage look-up for the whole batch (the
        DataLoader calls this once per batch)."""
        from kdlib.data.teacher_stream import fetch_texts

        index = np.asarray(indices, dtype=np.int64)
        pids = {p.decode() for p in itertools.chain(self.pos_pids[index], self.neg_pids[index])}
        texts = fetch_texts(self.passages, pids)
        out = []
        for i in index.tolist():
            qid, pos, neg = self.qids[i].decode(), self.pos_pids[i].decode(), self.neg_pids[i].decode()
            missing = next((pid for pid in (pos, neg) if pid not in texts), None)
            if missing is not None:
                raise FormatError(self.source, int(self.lines[i]), "passage ids with text in the collection",
                                  f"{qid}\t{pos}\t{neg} (no passage {missing})")
            scores = (None, None) if self.pos_scores is None else (float(self.pos_scores[i]), float(self.neg_scores[i]))
            out.append(TrainingExample(self.queries[qid], texts[pos], texts[neg], *scores))
        return out

    @property
    def has_teacher_scores(self) -> bool:
        """Whether every triple carries teacher scores (all or none do)."""
        return self.pos_scores is not None

    def lengths(self) -> np.ndarray:
        """Each triple's length proxy, :meth:`TrainingExample.length` (query characters plus the
        longer passage's), computed once: the distinct passages' texts are fetched in windows of
        :data:`LENGTH_WINDOW` (a passage without text counts 0; its batch names it when fetched)."""
        if self._lengths is None:
            from kdlib.data.teacher_stream import fetch_texts

            n = len(self)
            pids, inverse = np.unique(np.concatenate([self.pos_pids, self.neg_pids]), return_inverse=True)
            passage_lengths = np.zeros(len(pids), dtype=np.int64)
            for start in range(0, len(pids), LENGTH_WINDOW):
                window = [p.decode() for p in pids[start:start + LENGTH_WINDOW]]
                texts = fetch_texts(self.passages, window)
                passage_lengths[start:start + len(window)] = [len(texts.get(p, "")) for p in window]
            qids, query_index = np.unique(self.qids, return_inverse=True)
            query_lengths = np.array([len(self.queries[q.decode()]) for q in qids], dtype=np.int64)
            self._lengths = query_lengths[query_index] + np.maximum(passage_lengths[inverse[:n]],
                                                                     passage_lengths[inverse[n:]])
            log.info("%s: lengths of %d triples from %d distinct passages", self.source, n, len(pids))
        return self._lengths


def example_lengths(examples: Sequence[TrainingExample]) -> Sequence[int]:
    """The length proxy the batch schedule buckets by (:meth:`TrainingExample.length`)."""
    lengths = getattr(examples, "lengths", None)
    return lengths() if callable(lengths) else [ex.length() for ex in examples]


def count_without_teacher(examples: Sequence[TrainingExample]) -> int:
    """How many examples lack teacher scores, without fetching texts of an id-held set."""
    if isinstance(examples, IdTripleExamples):
        return 0 if examples.has_teacher_scores else len(examples)
    return sum(not ex.has_teacher for ex in examples)


def holds_texts_lazily(passages: Any) -> bool:
    """Whether passages come from a docs store (full scale), where triples are held by id."""
    return callable(getattr(passages, "get_many", None))
