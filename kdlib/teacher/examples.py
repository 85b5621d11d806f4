"""Read a teacher-score file back as training examples (ids -> texts)."""
from __future__ import annotations

import logging
import os
from typing import Any

from kdlib.errors import FormatError

log = logging.getLogger(__name__)


def read_examples_from_teacher_file(path: str | os.PathLike, dataset: Any, *, strict: bool = False) -> list:
    """The triples of a teacher file as :class:`kdlib.train.TrainingExample` with scores.

    Students always read their teacher scores from the file (never an in-memory shortcut),
    so a published file and one of ours go through the same path.

    Args:
        path: a file in the published format (``pos neg qid pos_pid neg_pid``).
        dataset: gives the query and passage texts.
        strict: raise on the first line whose ids have no text (default: skip and report).

    Returns:
        Examples in file order; lines with unknown ids are left out and counted in a warning.

    Raises:
        FormatError: a malformed line, a missing id with ``strict``, or no usable line at all.
    """
    from kdlib.data.formats import read_teacher_scores
    from kdlib.train.examples import TrainingExample

    examples = []
    missing_queries: set[str] = set()
    missing_passages: set[str] = set()
    lines = 0
    for lineno, record in enumerate(read_teacher_scores(path), start=1):
        lines += 1
        query = dataset.queries.get(record.qid)
        pos = dataset.passages.get(record.pos_pid)
        neg = dataset.passages.get(record.neg_pid)
        if query is None or pos is None or neg is None:
            if query is None:
                missing_queries.add(record.qid)
            missing_passages.update(p for p, text in ((record.pos_pid, pos), (record.neg_pid, neg)) if text is None)
            if strict:
                raise FormatError(path, lineno, f"ids with text in {dataset.name}",
                                  f"{record.qid}\t{record.pos_pid}\t{record.neg_pid}")
            continue
        examples.append(TrainingExample(query, pos, neg, record.pos_score, record.neg_score))
    if missing_queries or missing_passages:
        log.warning(
            "%s: %d of %d lines skipped: %d query ids (e.g. %s) and %d passage ids (e.g. %s) have no text in %s",
            path, lines - len(examples), lines, len(missing_queries), sorted(missing_queries)[:3],
            len(missing_passages), sorted(missing_passages)[:3], dataset.name,
        )
    if not examples:
        raise FormatError(path, 0, f"at least one line whose ids have text in {dataset.name}",
                          f"{lines} lines, none usable")
    return examples
