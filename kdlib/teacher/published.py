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
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from kdlib.core.errors import KdlibError

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


def impute_pairs(run: Mapping[str, Mapping[str, float]], pairs: Sequence[tuple[str, str]],
                 member: str) -> tuple[np.ndarray, int]:
    """``member``'s scores of ``(qid, pid)`` pairs from its run, an absent pair given the
    query's minimum score (module docstring); returns the scores and how many were imputed.

    Raises:
        KdlibError: the run lacks a query of the pairs.
    """
    missing = sorted({qid for qid, _ in pairs if not run.get(qid)})
    if missing:
        raise KdlibError(
            f"published teacher {member!r} has no scores for {len(missing)} queries "
            f"(e.g. {missing[:5]}); restrict the triples to the queries it covers"
        )
    floor = {qid: min(run[qid].values()) for qid in {qid for qid, _ in pairs}}
    values = np.empty(len(pairs))
    imputed = 0
    for i, (qid, pid) in enumerate(pairs):
        score = run[qid].get(pid)
        if score is None:
            score = floor[qid]
            imputed += 1
        values[i] = score
    return values, imputed


def normalise(values: np.ndarray, member: str, normalisation: str, scale: float) -> np.ndarray:
    """``zscore``: ``(s - mean) / std * scale`` over all of a member's scores; ``none``: as is.

    Raises:
        KdlibError: an unknown normalisation, or all scores equal (nothing to standardise).
    """
    if normalisation == "none":
        return values
    if normalisation != "zscore":
        raise KdlibError(f"unknown normalisation {normalisation!r}: expected zscore or none")
    std = values.std()
    if not std > 0:
        raise KdlibError(f"published teacher {member!r}: all scores equal, cannot z-normalise")
    return (values - values.mean()) / std * scale


def member_scores(dataset: Any, triples: Sequence[Any], member: str) -> MemberScores:
    """Scores of ``member``'s run for every triple, imputing absent pairs (module docstring).

    Raises:
        KdlibError: the dataset has no run ``member``, or the run lacks a triple's query.
    """
    run = _run(dataset, member)
    pairs = [(t.qid, t.pos_pid) for t in triples] + [(t.qid, t.neg_pid) for t in triples]
    values, imputed = impute_pairs(run, pairs, member)
    return MemberScores(values[:len(triples)], values[len(triples):], imputed, len(pairs))


def _run(dataset: Any, member: str) -> Mapping[str, Mapping[str, float]]:
    if member not in dataset.runs:
        raise KdlibError(f"no published run {member!r} in {dataset.name}; has {sorted(dataset.runs)}")
    return dataset.runs[member]


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
    total_pos = np.zeros(len(triples))
    total_neg = np.zeros(len(triples))
    for member in members:
        scores = member_scores(dataset, triples, member)
        log.info("published teacher %s: %d of %d pairs imputed with the query's minimum score",
                 member, scores.imputed, scores.pairs)
        # Positives and negatives share one standardisation (the pair's margin keeps its meaning).
        both = normalise(np.concatenate([scores.pos, scores.neg]), member, normalisation, scale)
        total_pos += both[:len(triples)]
        total_neg += both[len(triples):]
    k = len(members)
    return [TeacherScore(float(p / k), float(n / k), t.qid, t.pos_pid, t.neg_pid)
            for p, n, t in zip(total_pos, total_neg, triples)]


def published_teacher_ranking(
    dataset: Any,
    candidates: Mapping[str, Sequence[str]],
    members: Sequence[str],
    *,
    normalisation: str = "zscore",
    scale: float = 4.0,
) -> dict[str, dict[str, float]]:
    """A teacher setting re-ranking candidate lists: the same construction as
    :func:`published_teacher_scores` (imputation, per-member normalisation over all the
    scores it is given, mean over members), applied to ``qid -> [pid, ...]``.

    Returns:
        A run ``qid -> pid -> score``.
    """
    if not members:
        raise KdlibError("published_teacher_ranking needs at least one member run")
    pairs = [(qid, pid) for qid, pids in candidates.items() for pid in pids]
    total = np.zeros(len(pairs))
    for member in members:
        values, _ = impute_pairs(_run(dataset, member), pairs, member)
        total += normalise(values, member, normalisation, scale) / len(members)
    out: dict[str, dict[str, float]] = {}
    for (qid, pid), value in zip(pairs, total):
        out.setdefault(qid, {})[pid] = float(value)
    return out
