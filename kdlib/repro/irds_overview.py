"""Chapter 1's tables for a profile whose data come from ``ir_datasets`` (streamed).

The embedded pack's chapter loads whole datasets; at full scale that would mean 8.8M
passages and 7M candidate pairs, so :func:`irds_overview` counts queries and judgements
and measures each evaluation dataset's BM25 candidates one query at a time.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pandas as pd

from kdlib.data import irds
from kdlib.data.datasets import qid_sort_key

if TYPE_CHECKING:
    from kdlib.core.profiles import DataConfig


def profile_datasets(config: DataConfig) -> list[str]:
    """The ``ir_datasets`` ids a profile reads: training, validation, evaluation and test."""
    names = [*config.train, *([config.validation_dataset] if config.validation_dataset else []),
             *config.eval_datasets, config.test]
    return list(dict.fromkeys(names))


def irds_overview(config: DataConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts per dataset and the measures of its BM25 candidates.

    Args:
        config: the profile's data section (``max_queries`` caps the measured queries,
            ``rerank_depth`` the candidates per query).

    Returns:
        ``(stats, bm25)``: ``stats`` indexed by dataset (queries, judged queries,
        judgements, one column per grade); ``bm25`` indexed by (dataset, run) with the
        dataset's own measures (:func:`kdlib.data.irds.measures_for`), for every dataset
        that is not a training split (their 478M BM25 pairs are never read).
    """
    from kdlib.eval.measures import evaluate_stream

    stats, runs = [], []
    for name in profile_datasets(config):
        queries = irds.load_queries(name)
        qrels = irds.load_qrels(name) or {}
        judged = sorted((q for q, j in qrels.items() if j and q in queries), key=qid_sort_key)
        grades = Counter(g for j in qrels.values() for g in j.values())
        stats.append({"name": name, "queries": len(queries), "judged_queries": len(judged),
                      "judgements": sum(grades.values()),
                      **{f"grade {g}": n for g, n in sorted(grades.items())}})
        if name in config.train or not judged:
            continue
        measured = judged[: config.max_queries] if config.max_queries is not None else judged
        candidates = irds.iter_candidates(name, depth=config.rerank_depth, qids=measured)
        values = evaluate_stream(((c.qid, dict(zip(c.pids, c.scores))) for c in candidates),
                                 {q: qrels[q] for q in measured}, irds.measures_for(name))
        runs.append({"dataset": name, "run": "bm25", "queries": len(measured), **values})
    table = pd.DataFrame(stats).set_index("name").fillna(0).astype(int)
    return table, pd.DataFrame(runs).set_index(["dataset", "run"])
