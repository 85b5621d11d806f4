"""Read a teacher-score file back as training examples (ids -> texts)."""
from __future__ import annotations

import os
from typing import Any

from kdlib.core.errors import FormatError


def read_examples_from_teacher_file(
    path: str | os.PathLike, dataset: Any, *, strict: bool = False, limit: int | None = None
) -> list:
    """The triples of a teacher file as :class:`kdlib.train.TrainingExample` with scores.

    Students always read their teacher scores from the file (never an in-memory shortcut),
    so a published file and one of ours go through the same path.

    Args:
        path: a file in the published format (``pos neg qid pos_pid neg_pid``).
        dataset: gives the query and passage texts.
        strict: raise on the first line whose ids have no text (default: skip and report).
        limit: read only the first ``limit`` lines (a published file scores every official
            triple; a student may train on fewer); ``None``: all.

    Returns:
        Examples in file order; lines with unknown ids are left out and counted in a warning.

    Raises:
        FormatError: a malformed line, a missing id with ``strict``, or no usable line at all.
    """
    from kdlib.data.teacher_stream import StreamStats, iter_teacher_examples

    # Texts are resolved in batches (one get_many per batch for a docs store); the result is
    # a list because the training loop buckets examples by length. At full scale stream
    # with kdlib.data.teacher_stream.iter_teacher_examples instead.
    stats = StreamStats()
    examples = list(iter_teacher_examples(path, dataset.queries, dataset.passages, stats=stats, strict=strict,
                                          limit=limit))
    if not examples:
        raise FormatError(path, 0, f"at least one line whose ids have text in {dataset.name}",
                          f"{stats.lines} lines, none usable")
    return examples
