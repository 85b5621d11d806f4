"""Training triples (query, relevant passage, non-relevant passage) and query splits.

MS MARCO's training triples pair a judged-relevant passage with a BM25-retrieved
passage that is not judged relevant. On TREC DL we build the same thing from the graded
judgements: positives are passages judged ``>= positive_min_grade`` (the track counts
grade 2 and 3 as relevant), negatives are drawn from the top of a candidate run among
passages judged 0 or not judged at all. Teachers later score exactly these triples
(Hofstätter et al., 2020, Section 3).
"""
from __future__ import annotations

import dataclasses
import random
import types
from typing import TYPE_CHECKING, Iterable, NamedTuple

from kdlib.data.datasets import DATASET_RUNS, TEACHER_RUNS, Dataset, merge_datasets, qid_sort_key
from kdlib.data.examples import Triple
from kdlib.data.formats import ranked
from kdlib.data.sources import source_for

if TYPE_CHECKING:
    from kdlib.core.profiles import DataConfig


class Splits(NamedTuple):
    """Train / validation / test datasets of one configuration."""

    train: Dataset
    validation: Dataset
    test: Dataset


def split_queries(qids: Iterable[str], n_validation: int, seed: int) -> tuple[list[str], list[str]]:
    """Hold out ``n_validation`` queries, chosen by ``seed`` from the sorted ids.

    Returns:
        ``(train_qids, validation_qids)``, each sorted by :func:`qid_sort_key`.

    Raises:
        ValueError: ``n_validation`` is negative or leaves no training query.
    """
    pool = sorted(set(qids), key=qid_sort_key)
    if n_validation < 0 or (pool and n_validation >= len(pool)) or (not pool and n_validation):
        raise ValueError(f"cannot hold out {n_validation} of {len(pool)} queries and keep some for training")
    held = set(random.Random(seed).sample(pool, n_validation))
    return [q for q in pool if q not in held], [q for q in pool if q in held]


def _top(run: dict[str, float] | None, depth: int) -> list[str]:
    return [pid for pid, _ in ranked(run or {}, depth)]


def sample_label_triples(
    dataset: Dataset,
    qids: Iterable[str],
    *,
    negatives_per_positive: int,
    positive_min_grade: int = 2,
    candidates: str = "bm25",
    depth: int = 100,
    seed: int = 42,
) -> list[Triple]:
    """Triples from judgements: each positive with up to ``negatives_per_positive`` negatives.

    Args:
        dataset: a judged dataset holding the ``candidates`` run.
        qids: queries to draw from.
        negatives_per_positive: negatives sampled (without replacement) per positive.
        positive_min_grade: smallest grade that makes a positive.
        candidates: the run whose top ``depth`` passages are the negative pool.
        depth: how deep into the candidate run negatives are drawn.
        seed: the same seed gives the same triples in the same order.

    Returns:
        triples in a seeded random order; only passages with text are used.

    Raises:
        ValueError: the dataset has no judgements, or lacks the candidate run.
    """
    if dataset.qrels is None:
        raise ValueError(f"{dataset.name} has no judgements: label triples need qrels")
    if candidates not in dataset.runs:
        raise ValueError(f"{dataset.name} has no run {candidates!r}: expected one of {sorted(dataset.runs)}")
    if negatives_per_positive < 1:
        raise ValueError(f"negatives_per_positive must be >= 1, got {negatives_per_positive}")
    rng = random.Random(seed)
    triples: list[Triple] = []
    for qid in sorted(set(qids), key=qid_sort_key):
        judged = dataset.qrels.get(qid, {})
        positives = sorted(p for p, grade in judged.items() if grade >= positive_min_grade and p in dataset.passages)
        pool = [
            p for p in _top(dataset.runs[candidates].get(qid), depth) if judged.get(p, 0) <= 0 and p in dataset.passages
        ]
        if not positives or not pool:
            continue
        for pos in positives:
            for neg in rng.sample(pool, min(negatives_per_positive, len(pool))):
                triples.append(Triple(qid, pos, neg))
    rng.shuffle(triples)
    return triples


def sample_candidate_pairs(
    dataset: Dataset,
    qids: Iterable[str],
    *,
    pairs_per_query: int,
    candidates: str = "bm25",
    depth: int = 100,
    scored_by: Iterable[str] = (),
    seed: int = 42,
) -> list[Triple]:
    """Pairs of a query's candidates for distillation, labels or not.

    Margin-MSE needs no label: any two passages a teacher scored give it a target margin
    (Hofstätter et al., 2020, Section 3). Each pair is two distinct passages drawn uniformly
    from the query's top-``depth`` candidates, the same distribution the student re-ranks at
    test time. ``Triple.pos_pid`` / ``neg_pid`` are then just the first and second passage:
    the teacher's margin says which is better, and may say it is the second.

    Args:
        dataset: holds the ``candidates`` run and the passage texts.
        qids: queries to draw from.
        pairs_per_query: distinct pairs per query (fewer where the pool is smaller).
        candidates: the run whose top ``depth`` passages form the pool.
        depth: pool depth.
        scored_by: runs that must all hold a passage for it to enter the pool (the members
            of every teacher of the matrix, when unscored pairs are dropped), among those that
            ranked the query at all (a run without the query takes no part in its scores);
            empty: no filter.
        seed: the same seed gives the same pairs in the same order.

    Returns:
        Pairs in a seeded random order; only passages with text are used.
    """
    if candidates not in dataset.runs:
        raise ValueError(f"{dataset.name} has no run {candidates!r}: expected one of {sorted(dataset.runs)}")
    if pairs_per_query < 1:
        raise ValueError(f"pairs_per_query must be >= 1, got {pairs_per_query}")
    filters = [dataset.runs[name] for name in scored_by]
    rng = random.Random(seed)
    pairs: list[Triple] = []
    for qid in sorted(set(qids), key=qid_sort_key):
        ranked = [run[qid] for run in filters if run.get(qid)]
        pool = [p for p in _top(dataset.runs[candidates].get(qid), depth)
                if p in dataset.passages and all(p in run for run in ranked)]
        n = len(pool)
        total = n * (n - 1) // 2
        if total == 0:
            continue
        # Sample pair indices without building all n^2 pairs: index k <-> (i, j), i < j.
        for k in rng.sample(range(total), min(pairs_per_query, total)):
            i, j = _pair_from_index(k, n)
            first, second = (pool[i], pool[j]) if rng.random() < 0.5 else (pool[j], pool[i])
            pairs.append(Triple(qid, first, second))
    rng.shuffle(pairs)
    return pairs


def _pair_from_index(k: int, n: int) -> tuple[int, int]:
    """The ``k``-th pair ``(i, j)``, ``i < j``, of ``n`` items in row order."""
    i = 0
    while k >= n - 1 - i:
        k -= n - 1 - i
        i += 1
    return i, i + 1 + k


def _load(data_config: DataConfig, name: str, *, candidates: bool = True, training: bool = False) -> Dataset:
    """One dataset of the configured source, capped at ``max_queries`` judged queries.

    ``candidates=False`` lets a source skip a split's candidate lists (MS MARCO train: 478M
    pairs), which only sampled triples need; official triples come by id from the docpairs.
    ``training``: a training dataset, whose teacher runs only ``teacher_runs_from`` admits.
    """
    runs = None
    if training and data_config.teacher_runs_from is not None and name not in data_config.teacher_runs_from:
        runs = [r for r in DATASET_RUNS.get(name, ()) if r not in TEACHER_RUNS or r == data_config.candidates]
    return source_for(data_config).load(name, max_queries=data_config.max_queries, candidates=candidates,
                                        depth=data_config.rerank_depth, runs=runs)


def _held_out(data_config: DataConfig, name: str) -> Dataset:
    """``validation_queries`` judged queries of dataset ``name`` (seeded) with their candidates.

    Only the held-out queries' candidate lists are read (MSMARCO-DEV: 7M pairs in all).
    """
    if name == data_config.test:
        raise ValueError(f"validation_dataset {name!r} is the test dataset")
    source = source_for(data_config)
    pool = source.load(name, max_queries=data_config.max_queries, candidates=False, depth=data_config.rerank_depth)
    _, qids = split_queries(pool.judged_qids(), data_config.validation_queries, data_config.seed)
    depth = data_config.validation_depth or data_config.rerank_depth
    runs = source.candidate_runs(name, qids=qids, depth=depth)
    return dataclasses.replace(pool.subset(qids), runs=types.MappingProxyType(runs))


def training_qids(dataset: Dataset) -> list[str]:
    """The queries of a training dataset students may learn from: its judged queries, then
    those without judgements that a published teacher run ranked (TREC DL 2022: Margin-MSE
    needs a teacher's scores, not labels), each part in :func:`qid_sort_key` order."""
    judged = dataset.judged_qids()
    seen = set(judged)
    scored = {q for name, run in dataset.runs.items() if name in TEACHER_RUNS for q, hits in run.items() if hits}
    return judged + sorted((q for q in scored - seen if q in dataset.queries), key=qid_sort_key)


def training_origins(data_config: DataConfig) -> dict[str, str]:
    """qid -> the training dataset it comes from, for every query of ``data.train``: a
    published run's scale can differ between datasets (:mod:`kdlib.teacher.published`)."""
    return {qid: name for name in data_config.train
            for qid in _load(data_config, name, candidates=False, training=True).queries}


def training_splits(data_config: DataConfig) -> Splits:
    """Train, validation and test datasets of a :class:`kdlib.core.profiles.DataConfig`.

    The ``train`` datasets are merged and ``validation_queries`` of their judged queries
    are held out (seeded), drawn only from the ``validation_from`` datasets when given, or from
    ``validation_dataset`` instead; ``max_queries`` caps each dataset. The training split keeps
    every other judged query and the unjudged ones a teacher ranked (:func:`training_qids`).
    The test dataset is never part of training or validation. Training datasets outside
    ``teacher_runs_from`` come without their teacher runs.

    Raises:
        ValueError: the test dataset is among the training datasets.
    """
    if data_config.test in data_config.train:
        raise ValueError(f"test dataset {data_config.test!r} is also a training dataset")
    sampled = data_config.train_triples == "sampled"
    full = merge_datasets([_load(data_config, name, candidates=sampled, training=True) for name in data_config.train])
    test = _load(data_config, data_config.test)
    pool = full.judged_qids()
    if data_config.validation_dataset:
        validation = _held_out(data_config, data_config.validation_dataset)
        train = full.subset(q for q in training_qids(full) if q not in validation.queries)
        return Splits(train, validation, test)
    if data_config.validation_from:
        unknown = [n for n in data_config.validation_from if n not in data_config.train]
        if unknown:
            raise ValueError(f"validation_from {unknown} are not training datasets {list(data_config.train)}")
        # Hold out validation queries from these datasets only (e.g. a year without teacher
        # runs), so that every query a teacher scored stays available for training.
        held_from = {q for name in data_config.validation_from for q in _load(data_config, name, candidates=False).judged_qids()}
        pool = [q for q in pool if q in held_from]
    _, validation_qids = split_queries(pool, data_config.validation_queries, data_config.seed)
    held = set(validation_qids)
    train_qids = [q for q in training_qids(full) if q not in held]
    train, validation = full.subset(train_qids), full.subset(validation_qids)
    overlap = (set(train.queries) | set(validation.queries)) & set(test.queries)
    assert not overlap, f"test queries leaked into training: {sorted(overlap)[:5]}"
    return Splits(train, validation, test)
