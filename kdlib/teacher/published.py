"""Teachers from published runs: the embedded analogue of the paper's published teacher files.

The pack's ``rep_llama``, ``splade_pp``, ``tas_b`` and ``ada2`` runs carry each system's own
scores for TREC DL 2020 (and 2019, the test set, never used here). A training triple
``(Q, P+, P-)`` gets member ``k``'s scores of ``(Q, P+)`` and ``(Q, P-)`` read from its run.

Imputation: a run holds only its own top-k (100, or 1,000 for RepLLaMA), so a pair may be
absent. Such a pair gets that member's *minimum* score for the query: the system ranked
the passage below everything it returned, and the minimum is the closest known score
that keeps that order. :func:`member_scores` counts how often this happens.

Normalisation (``zscore``): the members' scales differ (RepLLaMA ~0.74-0.94, SPLADE ~10-30),
so per member ``z = (s - mean_k) / std_k * scale`` with the mean and standard deviation of
all of member ``k``'s scores on these triples (positives and negatives together); the
ensemble (T2) is the mean over members of the normalised scores. ``scale`` sets the
spread, and so the size of the margins Margin-MSE regresses on.
"""
from __future__ import annotations

import logging
from typing import Any, NamedTuple, Sequence

import numpy as np

from kdlib.errors import KdlibError

log = logging.getLogger(__name__)


class MemberScores(NamedTuple):
    """One published run's scores of the triples' pairs.

    Attributes:
        pos: ``(N,)`` score of each triple's positive.
        neg: ``(N,)`` score of each triple's negative.
        imputed: pairs absent from the run (given the query's minimum score).
        pairs: all pairs (``2 N``).
    """

    pos: np.ndarray
    neg: np.ndarray
    imputed: int
    pairs: int


def member_scores(dataset: Any, triples: Sequence[Any], member: str) -> MemberScores:
    """Scores of ``member``'s run for every triple, imputing absent pairs (module docstring).

    Raises:
        KdlibError: the dataset has no run ``member``, or the run lacks a triple's query.
    """
    if member not in dataset.runs:
        raise KdlibError(f"no published run {member!r} in {dataset.name}; has {sorted(dataset.runs)}")
    run = dataset.runs[member]
    missing = sorted({t.qid for t in triples if not run.get(t.qid)})
    if missing:
        raise KdlibError(
            f"published teacher {member!r} has no scores for {len(missing)} queries of the triples "
            f"(e.g. {missing[:5]}); restrict the triples to the queries it covers"
        )
    floor = {qid: min(run[qid].values()) for qid in {t.qid for t in triples}}
    imputed = 0
    pos = np.empty(len(triples))
    neg = np.empty(len(triples))
    for i, t in enumerate(triples):
        ranked = run[t.qid]
        for target, pid in ((pos, t.pos_pid), (neg, t.neg_pid)):
            score = ranked.get(pid)
            if score is None:
                score = floor[t.qid]
                imputed += 1
            target[i] = score
    return MemberScores(pos, neg, imputed, 2 * len(triples))


def published_teacher_scores(
    dataset: Any,
    triples: Sequence[Any],
    members: Sequence[str],
    *,
    normalisation: str = "zscore",
    scale: float = 4.0,
) -> list:
    """Teacher scores of ``triples`` from published runs: one member (T1) or their mean (T2).

    Args:
        dataset: holds the members' runs (e.g. TREC DL 2020 training queries).
        triples: :class:`kdlib.data.Triple` ids.
        members: run names (``rep_llama``, ``splade_pp``, ``tas_b``, ``ada2``).
        normalisation: ``zscore`` (per member, then times ``scale``) or ``none`` (raw).
        scale: standard deviation of each member's scores after ``zscore``.

    Returns:
        :class:`kdlib.data.formats.TeacherScore` records, in the order of ``triples``
        (write them with ``write_teacher_scores``; students read that file back).
    """
    from kdlib.data.formats import TeacherScore

    if not members:
        raise KdlibError("published_teacher_scores needs at least one member run")
    if normalisation not in ("zscore", "none"):
        raise KdlibError(f"unknown normalisation {normalisation!r}: expected zscore or none")
    total_pos = np.zeros(len(triples))
    total_neg = np.zeros(len(triples))
    for member in members:
        scores = member_scores(dataset, triples, member)
        log.info("published teacher %s: %d of %d pairs imputed with the query's minimum score",
                 member, scores.imputed, scores.pairs)
        pos, neg = scores.pos, scores.neg
        if normalisation == "zscore":
            both = np.concatenate([pos, neg])
            std = both.std()
            if not std > 0:
                raise KdlibError(f"published teacher {member!r}: all scores equal, cannot z-normalise")
            pos = (pos - both.mean()) / std * scale
            neg = (neg - both.mean()) / std * scale
        total_pos += pos
        total_neg += neg
    k = len(members)
    return [TeacherScore(float(p / k), float(n / k), t.qid, t.pos_pid, t.neg_pid)
            for p, n, t in zip(total_pos, total_neg, triples)]
