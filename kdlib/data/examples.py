"""The unit of training data: one query with a positive and a negative passage, by id
(:class:`Triple`) or as text with optional teacher scores (:class:`TrainingExample`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Triple(NamedTuple):
    """A training triple by ids: query, positive passage, negative passage."""

    qid: str
    pos_pid: str
    neg_pid: str


@dataclass(frozen=True)
class TrainingExample:
    """One training triple, as text, with optional teacher scores.

    The paper trains on triples ``(Q, P+, P-)``; distillation adds the teacher's scores
    ``M_t(Q, P+)`` and ``M_t(Q, P-)`` (computed once, ahead of training). Label-only
    training (the RankNet baseline, our own teacher) leaves both scores ``None``.

    Attributes:
        query: the query text.
        pos_text: text of the relevant passage ``P+``.
        neg_text: text of the non-relevant passage ``P-``.
        pos_score: teacher score of ``(Q, P+)``, or ``None``.
        neg_score: teacher score of ``(Q, P-)``, or ``None``.
    """

    query: str
    pos_text: str
    neg_text: str
    pos_score: float | None = None
    neg_score: float | None = None

    @property
    def has_teacher(self) -> bool:
        """Whether both teacher scores are present."""
        return self.pos_score is not None and self.neg_score is not None

    def length(self) -> int:
        """A cheap length proxy (characters) used to bucket similar-length triples."""
        return len(self.query) + max(len(self.pos_text), len(self.neg_text))
