"""Training triples (query, relevant passage, non-relevant passage) and query splits.

MS MARCO's training triples pair a judged-relevant passage with a BM25-retrieved
passage that is not judged relevant. On TREC DL we build the same thing from the graded
judgements: positives are passages judged ``>= positive_min_grade`` (the track counts
grade 2 and 3 as relevant), negatives are drawn from the top of a candidate run among
passages judged 0 or not judged at all. Teachers later score exactly these triples
(Hofstätter et al., 2020, Section 3).
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Iterable, NamedTuple

from kdlib.data.datasets import Dataset, load_dataset, merge_datasets, qid_sort_key

if TYPE_CHECKING:
    from kdlib.profiles import DataConfig


class Triple(NamedTuple):
    """A training triple by ids: query, positive passage, negative passage."""

    qid: str
    pos_pid: str
    neg_pid: str


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
    ranked = sorted((run or {}).items(), key=lambda item: (-item[1], item[0]))
    return [pid for pid, _ in ranked[:depth]]


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


def training_splits(data_config: DataConfig) -> Splits:
    """Train, validation and test datasets of a :class:`kdlib.profiles.DataConfig`.

    The ``train`` datasets are merged and ``validation_queries`` of their judged queries
    are held out (seeded); ``max_queries`` caps each dataset. The test dataset is never
    part of training or validation.

    Raises:
        ValueError: the test dataset is among the training datasets.
    """
    if data_config.test in data_config.train:
        raise ValueError(f"test dataset {data_config.test!r} is also a training dataset")
    if data_config.pack == "msmarco":
        from kdlib.data.irds import load_irds

        # Official triples come by id from the docpairs: the training split's candidate
        # lists (MS MARCO: 478M pairs) are read only when triples are sampled from them.
        sampled = data_config.train_triples == "sampled"
        parts = [load_irds(name, candidates=sampled, depth=data_config.rerank_depth) for name in data_config.train]
        if data_config.max_queries is not None:
            parts = [ds.subset(ds.judged_qids()[: data_config.max_queries]) for ds in parts]
        full = merge_datasets(parts)
        test = load_irds(data_config.test, candidates=True, depth=data_config.rerank_depth)
        if data_config.max_queries is not None:
            test = test.subset(test.judged_qids()[: data_config.max_queries])
    else:
        full = load_dataset(data_config.train, max_queries=data_config.max_queries)
        test = load_dataset(data_config.test, max_queries=data_config.max_queries)
    train_qids, validation_qids = split_queries(full.judged_qids(), data_config.validation_queries, data_config.seed)
    train, validation = full.subset(train_qids), full.subset(validation_qids)
    overlap = (set(train.queries) | set(validation.queries)) & set(test.queries)
    assert not overlap, f"test queries leaked into training: {sorted(overlap)[:5]}"
    return Splits(train, validation, test)
