"""Training triples by id -> training examples with texts, streamed in bounded memory.

A published teacher file has ~40M lines (``pos_score neg_score qid pos_pid neg_pid``) and
the official triples as many; neither is ever held in memory. Lines are read one at a time
and resolved in batches: the passage texts of a batch come from one ``get_many`` call (an
``ir_datasets`` docs store through :class:`kdlib.data.irds.LazyPassages`, or any mapping),
then its examples are yielded and dropped. Peak memory is the queries mapping (all
808,731 MS MARCO training queries: ~0.1 GB), one batch and the docs store's buffers, the
same for a 200k-line and a 40M-line file (``benchmarks/bench_teacher_file.py``).

Examples::

    from kdlib.data import irds
    queries = irds.load_queries(irds.TRAIN)
    passages = irds.load_irds(irds.TRAIN).passages
    for example in iter_teacher_examples("bert_cat_ensemble_...tsv", queries, passages):
        ...  # TrainingExample(query, pos_text, neg_text, pos_score, neg_score)
"""
from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from kdlib.core.errors import FormatError
from kdlib.data.examples import TrainingExample
from kdlib.data.formats import read_teacher_scores

log = logging.getLogger(__name__)

#: Lines resolved per ``get_many`` call.
DEFAULT_BATCH = 4096


@dataclass
class StreamStats:
    """Counts of a streamed file, updated while it is read.

    Attributes:
        lines: records read (after ``skip``).
        kept: examples yielded.
        missing_query: records dropped because their query has no text.
        missing_passage: records dropped because a passage has no text.
        examples: a few of the unknown ids (for the warning).
    """

    lines: int = 0
    kept: int = 0
    missing_query: int = 0
    missing_passage: int = 0
    examples: list[str] = field(default_factory=list, compare=False)

    def note(self, unknown: str) -> None:
        if len(self.examples) < 5 and unknown not in self.examples:
            self.examples.append(unknown)


def fetch_texts(passages: Any, pids: Iterable[str]) -> dict[str, str]:
    """``pid -> text`` for the ``pids`` that have text, in one ``get_many`` call where possible."""
    get_many = getattr(passages, "get_many", None)
    if get_many is not None:
        return get_many(pids)
    return {pid: passages[pid] for pid in pids if pid in passages}


def _resolve(
    records: Iterable[Any],
    queries: Mapping[str, str],
    passages: Any,
    *,
    batch: int,
    stats: StreamStats,
    strict: bool,
    source: str,
    first_line: int,
) -> Iterator[TrainingExample]:
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    records = iter(records)
    lineno = first_line - 1
    while True:
        chunk = list(itertools.islice(records, batch))
        if not chunk:
            break
        texts = fetch_texts(passages, {pid for r in chunk for pid in (r.pos_pid, r.neg_pid)})
        for record in chunk:
            lineno += 1
            stats.lines += 1
            query = queries.get(record.qid)
            pos, neg = texts.get(record.pos_pid), texts.get(record.neg_pid)
            if query is None or pos is None or neg is None:
                if strict:
                    raise FormatError(source, lineno, "ids with text", f"{record.qid}\t{record.pos_pid}\t{record.neg_pid}")
                if query is None:
                    stats.missing_query += 1
                    stats.note(f"query {record.qid}")
                else:
                    stats.missing_passage += 1
                    stats.note(f"passage {record.pos_pid if pos is None else record.neg_pid}")
                continue
            stats.kept += 1
            yield TrainingExample(query, pos, neg, getattr(record, "pos_score", None), getattr(record, "neg_score", None))
        del chunk, texts
    if stats.missing_query or stats.missing_passage:
        log.warning("%s: %d of %d records skipped (%d with an unknown query, %d with an unknown passage; e.g. %s)",
                    source, stats.lines - stats.kept, stats.lines, stats.missing_query, stats.missing_passage,
                    ", ".join(stats.examples))


def iter_teacher_examples(
    path: str | os.PathLike,
    queries: Mapping[str, str],
    passages: Any,
    *,
    batch: int = DEFAULT_BATCH,
    skip: int = 0,
    limit: int | None = None,
    stats: StreamStats | None = None,
    strict: bool = False,
) -> Iterator[TrainingExample]:
    """Stream a teacher file (published format) as :class:`TrainingExample` with scores.

    Args:
        path: ``pos_score<TAB>neg_score<TAB>qid<TAB>pos_pid<TAB>neg_pid`` lines.
        queries: ``qid -> text`` (e.g. :func:`kdlib.data.irds.load_queries` of the train split).
        passages: ``pid -> text`` with ``get_many`` (a docs store) or any mapping.
        batch: lines resolved per ``get_many`` call.
        skip: lines to pass over first (resuming after ``skip`` examples were consumed).
        limit: stop after this many lines (after ``skip``); ``None``: to the end.
        stats: filled in while reading (lines, kept, dropped).
        strict: raise on a line whose ids have no text instead of skipping it.

    Yields:
        Examples in file order.

    Raises:
        FormatError: a malformed line (file and line named), or an unknown id with ``strict``.
    """
    records: Iterable[Any] = read_teacher_scores(path)
    records = itertools.islice(records, skip, None if limit is None else skip + limit)
    return _resolve(records, queries, passages, batch=batch, stats=stats if stats is not None else StreamStats(),
                    strict=strict, source=os.fspath(path), first_line=skip + 1)


def iter_triple_examples(
    triples: Iterable[Any],
    queries: Mapping[str, str],
    passages: Any,
    *,
    batch: int = DEFAULT_BATCH,
    stats: StreamStats | None = None,
    strict: bool = False,
) -> Iterator[TrainingExample]:
    """Stream id triples (``qid``, ``pos_pid``, ``neg_pid``; e.g. :func:`kdlib.data.irds.iter_triples`)
    as label-only :class:`TrainingExample`, texts resolved in batches like :func:`iter_teacher_examples`."""
    return _resolve(triples, queries, passages, batch=batch, stats=stats if stats is not None else StreamStats(),
                    strict=strict, source="triples", first_line=1)


def irds_training_examples(
    name: str | None = None,
    teacher_file: str | os.PathLike | None = None,
    *,
    skip: int = 0,
    limit: int | None = None,
    batch: int = DEFAULT_BATCH,
    stats: StreamStats | None = None,
    loader: Any = None,
) -> Iterator[TrainingExample]:
    """The full-scale training stream: an ``ir_datasets`` split's official triples, or a teacher
    file's lines (its own ids, with scores), with the split's query and passage texts.

    Args:
        name: the ``ir_datasets`` training split (default ``msmarco-passage/train/triples-small``).
        teacher_file: a file in the published format (e.g. from
            :func:`kdlib.data.teacher_files.published_teacher_file`); ``None``: the split's
            ``docpairs`` as label-only examples.
        skip: records to pass over first (resuming); ``limit``: records to read after them.
        batch: records resolved per ``get_many``.
        stats: filled in while reading.
        loader: ``name -> dataset object`` (default ``ir_datasets.load``).
    """
    from kdlib.data import irds

    name = name or irds.TRAIN
    queries = irds.load_queries(name, loader=loader)
    passages = irds.load_passages(name, loader=loader)
    if teacher_file is not None:
        return iter_teacher_examples(teacher_file, queries, passages, batch=batch, skip=skip, limit=limit, stats=stats)
    triples = itertools.islice(irds.iter_triples(name, loader=loader), skip, None if limit is None else skip + limit)
    return iter_triple_examples(triples, queries, passages, batch=batch, stats=stats)
