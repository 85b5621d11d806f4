"""Teachers from published runs: the embedded analogue of the paper's published teacher files.

The pack's ``rep_llama``, ``splade_pp``, ``tas_b`` and ``ada2`` runs carry each system's own
scores (TREC DL 2020 for all four; SPLADE++ also for TREC DL 2021 and 2022; TREC DL 2019, the
test set, is never used for training). A training triple ``(Q, P+, P-)`` gets member ``k``'s
scores of ``(Q, P+)`` and ``(Q, P-)`` read from its run.

Coverage: a member whose run has no list at all for query ``Q`` does not take part in ``Q``'s
scores; an ensemble (T2) scores ``Q`` with the mean of the members that ranked it (on the
pack's TREC DL 2021 and 2022 queries SPLADE++ alone, so T2 equals T1 there). A query no
member ranked is an error.

Imputation: a run holds only its own top-k (100, or 1,000 for RepLLaMA), so a pair may be
absent. Such a pair gets that member's *minimum* score for the query: the system ranked
the passage below everything it returned, and the minimum is the closest known score
that keeps that order. :func:`member_scores` counts how often this happens.

Normalisation (``zscore``): the members' scales differ (RepLLaMA ~0.74-0.94, TAS-B ~90-115,
SPLADE++ ~10^5), so per member ``z = (s - mean_k) / std_k * scale`` with the mean and standard
deviation of all of member ``k``'s scores on these triples (positives and negatives together);
the ensemble (T2) is the mean over members of the normalised scores. ``scale`` sets the
spread, and so the size of the margins Margin-MSE regresses on. A run's scale can also differ
between the years it ranked (the pack's SPLADE++ scores TREC DL 2020 at ~10^5 and TREC DL 2021
and 2022, quantised on another index, at ~10^6), so ``groups`` (qid -> its training dataset)
standardises each member within each group: one year's scale then cannot shrink another's
margins.
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
        imputed: pairs absent from the run of a query it ranked (given the query's minimum score).
        pairs: all pairs (``2 N``).
        covered: ``(N,)`` whether the run ranked the triple's query at all; ``pos`` and ``neg``
            are ``nan`` where it did not (the member takes no part in that query).
    """

    pos: np.ndarray
    neg: np.ndarray
    imputed: int
    pairs: int
    covered: np.ndarray

    @property
    def scored_pairs(self) -> int:
        """Pairs of covered queries the run really scored (not imputed)."""
        return 2 * int(self.covered.sum()) - self.imputed


def impute_pairs(run: Mapping[str, Mapping[str, float]], pairs: Sequence[tuple[str, str]],
                 member: str, *, uncovered: str = "error") -> tuple[np.ndarray, int]:
    """``member``'s scores of ``(qid, pid)`` pairs from its run, an absent pair given the
    query's minimum score (module docstring); returns the scores and how many were imputed.

    Args:
        uncovered: what a pair of a query the run has no list for gets: ``error`` raises,
            ``nan`` gives ``nan`` (the member takes no part in that query).

    Raises:
        KdlibError: the run lacks a query of the pairs (``uncovered="error"``).
    """
    missing = sorted({qid for qid, _ in pairs if not run.get(qid)})
    if missing and uncovered == "error":
        raise KdlibError(
            f"published teacher {member!r} has no scores for {len(missing)} queries "
            f"(e.g. {missing[:5]}); restrict the triples to the queries it covers"
        )
    floor = {qid: min(run[qid].values()) for qid in {qid for qid, _ in pairs} if run.get(qid)}
    values = np.empty(len(pairs))
    imputed = 0
    for i, (qid, pid) in enumerate(pairs):
        if qid not in floor:
            values[i] = np.nan
            continue
        score = run[qid].get(pid)
        if score is None:
            score = floor[qid]
            imputed += 1
        values[i] = score
    return values, imputed


def normalise(values: np.ndarray, member: str, normalisation: str, scale: float) -> np.ndarray:
    """``zscore``: ``(s - mean) / std * scale`` over all of a member's scores (``nan``, a query
    the member did not rank, is left out and stays ``nan``); ``none``: as is.

    Raises:
        KdlibError: an unknown normalisation, or all scores equal (nothing to standardise).
    """
    if normalisation == "none":
        return values
    if normalisation != "zscore":
        raise KdlibError(f"unknown normalisation {normalisation!r}: expected zscore or none")
    present = values[~np.isnan(values)]
    std = present.std() if len(present) else 0.0
    if not std > 0:
        raise KdlibError(f"published teacher {member!r}: all scores equal, cannot z-normalise")
    return (values - present.mean()) / std * scale


def member_scores(dataset: Any, triples: Sequence[Any], member: str) -> MemberScores:
    """Scores of ``member``'s run for every triple, imputing absent pairs of the queries it
    ranked and giving ``nan`` to the triples of queries it did not (module docstring).

    Raises:
        KdlibError: the dataset has no run ``member``.
    """
    run = _run(dataset, member)
    pairs = [(t.qid, t.pos_pid) for t in triples] + [(t.qid, t.neg_pid) for t in triples]
    values, imputed = impute_pairs(run, pairs, member, uncovered="nan")
    covered = np.array([bool(run.get(t.qid)) for t in triples], dtype=bool)
    return MemberScores(values[:len(triples)], values[len(triples):], imputed, len(pairs), covered)


def normalise_groups(values: np.ndarray, keys: Sequence[str], member: str, normalisation: str, scale: float,
                     groups: Mapping[str, str] | None) -> np.ndarray:
    """:func:`normalise` within each group of ``groups`` (``keys[i]``, a qid, -> its group; the
    qids without a group form one more group); ``groups=None``: all values together."""
    if groups is None:
        return normalise(values, member, normalisation, scale)
    labels = np.array([groups.get(k, "") for k in keys], dtype=object)
    out = np.array(values, dtype=float)
    for label in dict.fromkeys(labels):
        part = labels == label
        if np.isnan(out[part]).all():
            continue  # the member did not rank this group's queries
        out[part] = normalise(out[part], f"{member} ({label or 'ungrouped'})", normalisation, scale)
    return out


def _mean_of_members(values: Sequence[np.ndarray], keys: Sequence[str], members: Sequence[str]) -> np.ndarray:
    """Per item, the mean over the members that have a value (not ``nan``) for it.

    Raises:
        KdlibError: an item (``keys``: its query) no member has a value for.
    """
    stacked = np.vstack(values)
    present = ~np.isnan(stacked)
    count = present.sum(axis=0)
    if (count == 0).any():
        missing = sorted({keys[i] for i in np.flatnonzero(count == 0)})
        raise KdlibError(f"no member of {list(members)} ranked {len(missing)} queries (e.g. {missing[:5]}); "
                         "restrict the triples to the queries a member covers")
    return np.where(present, stacked, 0.0).sum(axis=0) / count


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
    groups: Mapping[str, str] | None = None,
) -> list:
    """Teacher scores of ``triples`` from published runs: one member (T1) or their mean (T2).

    Args:
        dataset: holds the members' runs (e.g. TREC DL 2020 training queries).
        triples: :class:`kdlib.data.Triple` ids.
        members: run names (``rep_llama``, ``splade_pp``, ``tas_b``, ``ada2``).
        normalisation: ``zscore`` (per member, then times ``scale``) or ``none`` (raw).
        scale: standard deviation of each member's scores after ``zscore``.
        groups: qid -> its group (training dataset), each standardised on its own (module
            docstring); ``None``: all scores of a member together.

    Returns:
        :class:`kdlib.data.formats.TeacherScore` records, in the order of ``triples``
        (write them with ``write_teacher_scores``; students read that file back).
    """
    from kdlib.data.formats import TeacherScore

    if not members:
        raise KdlibError("published_teacher_scores needs at least one member run")
    normalised = []
    qids = [t.qid for t in triples] * 2
    for member in members:
        scores = member_scores(dataset, triples, member)
        log.info("published teacher %s: ranks %d of %d triples' queries; %d of %d pairs imputed with the "
                 "query's minimum score", member, int(scores.covered.sum()), len(triples), scores.imputed,
                 scores.pairs)
        # Positives and negatives share one standardisation (the pair's margin keeps its meaning).
        normalised.append(normalise_groups(np.concatenate([scores.pos, scores.neg]), qids, member, normalisation,
                                           scale, groups))
    both = _mean_of_members(normalised, qids, members)
    total_pos, total_neg = both[:len(triples)], both[len(triples):]
    return [TeacherScore(float(p), float(n), t.qid, t.pos_pid, t.neg_pid)
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
    normalised = [normalise(impute_pairs(_run(dataset, member), pairs, member, uncovered="nan")[0], member,
                            normalisation, scale) for member in members]
    total = _mean_of_members(normalised, [qid for qid, _ in pairs], members)
    out: dict[str, dict[str, float]] = {}
    for (qid, pid), value in zip(pairs, total):
        out.setdefault(qid, {})[pid] = float(value)
    return out
