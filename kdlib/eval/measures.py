"""Evaluation with ir-measures: aggregate and per-query metrics, paired significance tests.

The paper reports nDCG@10 on TREC DL'19 and MRR@10 on MSMARCO-DEV, plus recall at 1000
(Hofstätter et al., 2020, Figure 1 and Table 2). For TREC DL the binary measures count
grade >= 2 as relevant, hence ``RR(rel=2)@10`` and ``R(rel=2)@k``; nDCG uses graded gains,
``nDCG@k = DCG@k / IDCG@k`` with ``DCG@k = sum_{i<=k} grade_i / log2(i + 1)``.

Every judged query counts: a query that is in the qrels but missing from the run scores
0 on every measure (as ``trec_eval -c`` does), so dropping queries never raises a mean.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Literal, Mapping, Sequence

import ir_measures

from kdlib.core.errors import ConfigError
from kdlib.data.datasets import DEFAULT_MEASURE_NAMES

if TYPE_CHECKING:
    import pandas as pd

    from kdlib.eval.significance import PairedComparison

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

#: The measures reported everywhere: nDCG@10, MRR@10 and recall at 100 / 1000 (relevant: grade >= 2).
DEFAULT_MEASURES: tuple = tuple(ir_measures.parse_measure(m) for m in DEFAULT_MEASURE_NAMES)


def parse_measures(measures: Iterable[ir_measures.Measure | str]) -> list:
    """Measures as ir-measures objects (strings are parsed, e.g. ``"RR(rel=2)@10"``).

    Raises:
        ConfigError: a string that is not an ir-measures measure (a ``ValueError`` too).
    """
    parsed = []
    for measure in measures:
        if isinstance(measure, str):
            try:
                measure = ir_measures.parse_measure(measure)
            except (ValueError, NameError, SyntaxError, TypeError) as exc:
                raise ConfigError(
                    f"not an ir-measures measure: {measure!r} ({exc}); write one as ir-measures names it, "
                    f"e.g. nDCG@10, RR(rel=2)@10, R(rel=2)@1000, AP(rel=2)"
                ) from None
        parsed.append(measure)
    return parsed


def _plain(nested: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    # ir-measures' backends want plain dicts (Datasets hold read-only mapping proxies).
    return {str(q): {str(p): v for p, v in inner.items()} for q, inner in nested.items()}


def _judged(qrels: Qrels) -> list[str]:
    return sorted(q for q, judged in qrels.items() if judged)


def _per_query_table(run: Run, qrels: Qrels, measures: Sequence) -> dict[str, dict[str, float]]:
    """measure name -> qid -> value, with 0 for judged queries the run lacks."""
    judged = _judged(qrels)
    plain_qrels = {q: {p: int(g) for p, g in qrels[q].items()} for q in judged}
    plain_run = {q: r for q, r in _plain(run).items() if q in plain_qrels and r}
    table = {str(m): dict.fromkeys(judged, 0.0) for m in measures}
    if plain_run and judged:
        for row in ir_measures.iter_calc(list(measures), plain_qrels, plain_run):
            table[str(row.measure)][row.query_id] = float(row.value)
    return table


def evaluate(run: Run, qrels: Qrels, measures: Iterable[ir_measures.Measure | str] = DEFAULT_MEASURES) -> dict[str, float]:
    """Mean of each measure over the judged queries (missing queries count as 0).

    Returns:
        ``{str(measure): mean}``, in the order of ``measures``.

    Raises:
        ValueError: the qrels judge no query.
    """
    measures = parse_measures(measures)
    if not _judged(qrels):
        raise ValueError("qrels judge no query: nothing to evaluate")
    table = _per_query_table(run, qrels, measures)
    return {name: sum(values.values()) / len(values) for name, values in table.items()}


def evaluate_stream(
    run: Iterable[tuple[str, Mapping[str, float]]],
    qrels: Qrels,
    measures: Iterable[ir_measures.Measure | str] = DEFAULT_MEASURES,
    *,
    queries_per_chunk: int = 1000,
) -> dict[str, float]:
    """:func:`evaluate` of a run that arrives one query at a time (e.g. 7M MSMARCO-DEV pairs).

    Per-query values are computed a chunk of queries at a time and summed, so memory holds
    one chunk; the means are those of :func:`evaluate` (missing judged queries count 0).

    Args:
        run: ``(qid, {pid: score})`` items, each query once (:func:`kdlib.eval.rerank.rerank_stream`,
            :func:`kdlib.data.formats.iter_run`).
        qrels: the judgements.
        measures: ir-measures measures or names.
        queries_per_chunk: queries per ir-measures call.

    Raises:
        ValueError: the qrels judge no query, or a query comes twice.
    """
    measures = parse_measures(measures)
    judged = set(_judged(qrels))
    if not judged:
        raise ValueError("qrels judge no query: nothing to evaluate")
    sums = {str(m): 0.0 for m in measures}
    seen: set[str] = set()
    chunk: dict[str, dict[str, float]] = {}

    def flush() -> None:
        if chunk:
            chunk_qrels = {q: {str(p): int(g) for p, g in qrels[q].items()} for q in chunk}
            for row in ir_measures.iter_calc(list(measures), chunk_qrels, chunk):
                sums[str(row.measure)] += float(row.value)
            chunk.clear()

    for qid, scores in run:
        qid = str(qid)
        if qid in seen:
            raise ValueError(f"query {qid} comes twice in the run")
        seen.add(qid)
        if qid in judged and scores:
            chunk[qid] = {str(p): float(v) for p, v in scores.items()}
            if len(chunk) >= queries_per_chunk:
                flush()
    flush()
    return {name: total / len(judged) for name, total in sums.items()}


def evaluate_run_file(path: str | os.PathLike, qrels: Qrels, measures: Iterable[ir_measures.Measure | str] = DEFAULT_MEASURES) -> dict[str, float]:
    """:func:`evaluate_stream` of a TREC run file grouped by query (as kdlib writes them)."""
    from kdlib.data.formats import iter_run

    return evaluate_stream(iter_run(path), qrels, measures)


def evaluate_per_query(
    run: Run, qrels: Qrels, measures: Iterable[ir_measures.Measure | str] = DEFAULT_MEASURES
) -> pd.DataFrame:
    """One row per (judged query, measure): columns ``qid``, ``measure``, ``value``."""
    import pandas as pd

    table = _per_query_table(run, qrels, parse_measures(measures))
    rows = [(qid, name, value) for name, values in table.items() for qid, value in values.items()]
    return pd.DataFrame(rows, columns=["qid", "measure", "value"])


def compare_runs(
    run_a: Run,
    run_b: Run,
    qrels: Qrels,
    measure: ir_measures.Measure | str,
    test: Literal["ttest", "wilcoxon"] = "ttest",
) -> PairedComparison:
    """Paired test (:func:`kdlib.eval.significance.paired_test`) of ``run_b`` against ``run_a``
    on per-query values of the judged queries.

    Raises:
        ValueError: an unknown test, or fewer than two judged queries.
    """
    from kdlib.eval.significance import TESTS, paired_test

    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    (parsed,) = parse_measures([measure])
    name = str(parsed)
    a = _per_query_table(run_a, qrels, [parsed])[name]
    b = _per_query_table(run_b, qrels, [parsed])[name]
    qids = sorted(a)
    if len(qids) < 2:
        raise ValueError(f"a paired test needs at least two judged queries, got {len(qids)}")
    return paired_test([a[q] for q in qids], [b[q] for q in qids], test)


def results_table(
    runs: Mapping[str, Run], qrels: Qrels, measures: Iterable[ir_measures.Measure | str] = DEFAULT_MEASURES
) -> pd.DataFrame:
    """A table of mean measures: one row per run (index = run name), one column per measure."""
    import pandas as pd

    measures = parse_measures(measures)
    rows = {name: evaluate(run, qrels, measures) for name, run in runs.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[str(m) for m in measures])
