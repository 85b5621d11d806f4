"""Stages that analyse the baseline and distilled students (chapters 3, 6 and 7).

- ``score_samples``: raw scores of every baseline student on test label triples.
- ``latency``: query latency of every architecture (its baseline's weights).
- ``paper_size_latency``: query latency of every architecture built, untrained, from
  ``eval.latency_paper_encoder`` (the paper's model size, e.g. DistilBERT's shape).
- ``dense``: dense retrieval with the BERT_DOT students over each test set's corpus (passages/s, index
  size and speed beside the measures).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from kdlib.core import artifacts
from kdlib.core.profiles import Profile
from kdlib.repro.matrix import baseline_cells, dense_cells, student_call
from kdlib.repro.splits import splits, test_set
from kdlib.repro.stage import stage
from kdlib.repro.stages.students import StudentRun, student


def baseline_runs(profile: Profile) -> dict[str, StudentRun]:
    """The baseline (RankNet on labels) student of every architecture."""
    return {c.arch: student(profile, c.arch, c.teacher, c.loss) for c in baseline_cells(profile)}


def _baselines(profile: Profile) -> list:
    return [student_call(profile, "student", c) for c in baseline_cells(profile)]


def test_label_pairs(profile: Profile, *, max_triples: int = 400):
    """Label triples of the test queries (one negative per positive), for score statistics only."""
    from kdlib.data import sample_label_triples

    test = splits(profile).test
    triples = sample_label_triples(test, test.judged_qids(), negatives_per_positive=1,
                                   positive_min_grade=profile.data.positive_min_grade,
                                   candidates=profile.data.candidates, depth=profile.data.rerank_depth,
                                   seed=profile.data.seed)
    return test, triples[:max_triples]


@stage("score_samples", sections=("data", "student.architectures", "eval.batch_size"), depends_on=("student",),
       upstream=_baselines)
def _sample_scores(profile: Profile, out: Path) -> None:
    test, triples = test_label_pairs(profile)
    queries = [test.queries[t.qid] for t in triples]
    rows = []
    for arch, run in baseline_runs(profile).items():
        ranker = run.load_model()
        for kind, pids in (("positive", [t.pos_pid for t in triples]), ("negative", [t.neg_pid for t in triples])):
            scores = ranker.score(queries, [test.passages[p] for p in pids], batch_size=profile.eval.batch_size)
            rows += [{"arch": arch, "kind": kind, "triple": i, "score": float(s)} for i, s in enumerate(scores)]
    artifacts.write_csv(out / "scores.csv", pd.DataFrame(rows))


def score_samples(profile: Profile) -> pd.DataFrame:
    """Raw scores of every baseline student on test label triples (arch, kind, triple, score)."""
    return pd.read_csv(_sample_scores.run(profile) / "scores.csv")


def score_statistics(profile: Profile) -> pd.DataFrame:
    """Per architecture: mean / std of positive and negative raw scores and the mean margin."""
    samples = score_samples(profile)
    wide = samples.pivot_table(index=["arch", "triple"], columns="kind", values="score").reset_index()
    wide["margin"] = wide["positive"] - wide["negative"]
    stats = wide.groupby("arch", sort=False).agg(
        mean_pos=("positive", "mean"), std_pos=("positive", "std"),
        mean_neg=("negative", "mean"), std_neg=("negative", "std"),
        mean_margin=("margin", "mean"), std_margin=("margin", "std"),
        positive_margin_share=("margin", lambda m: float((m > 0).mean())),
    )
    return stats.reindex([a for a in profile.student.architectures if a in stats.index]).reset_index()


@stage("latency", sections=("data", "student.architectures", "eval.latency_queries", "eval.latency_repeats",
                            "eval.latency_threads"),
       depends_on=("student",), upstream=_baselines)
def _measure_latency(profile: Profile, out: Path) -> None:
    from kdlib.eval.latency import latency_table, measure_latency
    from kdlib.eval.rerank import candidate_lists

    test = splits(profile).test
    lists, _ = candidate_lists(test, candidates=profile.data.candidates, depth=profile.data.rerank_depth)
    qids = list(lists)[: profile.eval.latency_queries] if profile.eval.latency_queries else list(lists)
    results, rows = [], []
    for arch, run in baseline_runs(profile).items():
        result = measure_latency(run.load_model(), test, candidates=profile.data.candidates,
                                 depth=profile.data.rerank_depth, qids=qids, repeats=profile.eval.latency_repeats,
                                 threads=profile.eval.latency_threads)
        results.append(result)
        rows += [{"arch": arch, "qid": q, "ms": float(ms)} for q, ms in zip(result.qids, result.per_query_ms)]
    artifacts.write_csv(out / "latency_per_query.csv", pd.DataFrame(rows))
    artifacts.write_csv(out / "latency.csv", latency_table(results).reset_index(drop=True))


def latency(profile: Profile) -> pd.DataFrame:
    """Query latency of every architecture (baseline weights; latency does not depend on them).

    One row per architecture (median and p95 ms); :func:`latency_per_query` has every timed query.
    """
    return pd.read_csv(_measure_latency.run(profile) / "latency.csv")


def latency_per_query(profile: Profile) -> pd.DataFrame:
    """Per timed query and architecture: ``arch``, ``qid``, ``ms`` (the median of its repeats)."""
    return pd.read_csv(_measure_latency.run(profile) / "latency_per_query.csv", dtype={"qid": str})


#: Seeds the new heads of the paper-size rankers (latency does not depend on them; the seed
#: only makes the built models the same in every run).
PAPER_SIZE_SEED = 0
#: The paper-size stage's own cost and the machine's load while it ran.
PAPER_SIZE_TIMING = "cost.json"


def paper_size_ranker(profile: Profile, arch: str):
    """Architecture ``arch`` at the paper's model size: built from ``eval.latency_paper_encoder``
    with the students' options and truncation lengths, untrained (heads seeded with
    :data:`PAPER_SIZE_SEED`).

    Untrained on purpose: latency does not depend on the weights, so a randomly initialised
    DistilBERT-shaped encoder times what a trained DistilBERT student would, without training one.

    Raises:
        ValueError: the profile sets no ``eval.latency_paper_encoder``.
    """
    import torch

    from kdlib.models import build

    encoder = profile.eval.latency_paper_encoder
    if encoder is None:
        raise ValueError(f"profile {profile.name} sets no eval.latency_paper_encoder: nothing to time at the paper's size")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(PAPER_SIZE_SEED)
        return build(arch, encoder, query_max_len=profile.data.query_max_len,
                     passage_max_len=profile.data.passage_max_len, dropout=0.0,
                     **dict(profile.student.options.get(arch, {})))


@stage("paper_size_latency", sections=("data", "student.architectures", "student.options",
                                       "eval.latency_paper_encoder", "eval.latency_paper_queries",
                                       "eval.latency_paper_depth", "eval.latency_repeats", "eval.latency_threads"))
def _measure_paper_size_latency(profile: Profile, out: Path) -> None:
    import gc
    import os

    from kdlib.eval.latency import latency_table, measure_latency
    from kdlib.eval.rerank import candidate_lists

    # What the whole stage costs, and how loaded the machine was: latencies measured beside
    # other jobs are inflated, and the chapter says so.
    start_wall, start_cpu, start_load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    test = splits(profile).test
    depth = profile.eval.latency_paper_depth
    lists, _ = candidate_lists(test, candidates=profile.data.candidates, depth=depth)
    qids = list(lists)[: profile.eval.latency_paper_queries]
    results, rows = [], []
    for arch in profile.student.architectures:
        ranker = paper_size_ranker(profile, arch)
        result = measure_latency(ranker, test, candidates=profile.data.candidates, depth=depth, qids=qids,
                                 repeats=profile.eval.latency_repeats, threads=profile.eval.latency_threads)
        del ranker
        gc.collect()  # one paper-size model in memory at a time
        results.append(result)
        rows += [{"arch": arch, "qid": q, "ms": float(ms)} for q, ms in zip(result.qids, result.per_query_ms)]
    table = latency_table(results)
    table.insert(1, "encoder", profile.eval.latency_paper_encoder)
    artifacts.write_csv(out / "latency_per_query.csv", pd.DataFrame(rows))
    artifacts.write_csv(out / "latency.csv", table)
    artifacts.write_json(out / PAPER_SIZE_TIMING, {
        "wall_s": time.perf_counter() - start_wall, "cpu_s": time.process_time() - start_cpu,
        "cores": os.cpu_count(), "load_1m_start": start_load, "load_1m_end": os.getloadavg()[0]})


def paper_size_latency(profile: Profile) -> pd.DataFrame | None:
    """Query latency of every architecture at the paper's model size (``eval.latency_paper_encoder``,
    untrained: :func:`paper_size_ranker`), ``eval.latency_paper_queries`` test queries x
    ``eval.latency_paper_depth`` candidates: one row per architecture as :func:`latency`, with
    the encoder. ``None`` when the profile sets no paper-size encoder."""
    if profile.eval.latency_paper_encoder is None:
        return None
    return pd.read_csv(_measure_paper_size_latency.run(profile) / "latency.csv")


def paper_size_latency_cost(profile: Profile) -> dict[str, float] | None:
    """What the paper-size measurement cost when it ran: ``wall_s`` and ``cpu_s`` of the whole
    stage (building the models, encoding the passages, timing), ``cores``, and the machine's
    1-minute load average at its start and end (``load_1m_start``, ``load_1m_end``: above
    ``cores``, other jobs shared the CPU and every latency is inflated). ``None`` when the
    profile sets no paper-size encoder."""
    if profile.eval.latency_paper_encoder is None:
        return None
    return json.loads((_measure_paper_size_latency.run(profile) / PAPER_SIZE_TIMING).read_text())


def paper_size_latency_per_query(profile: Profile) -> pd.DataFrame | None:
    """Per timed query and architecture at the paper's size: ``arch``, ``qid``, ``ms``; ``None``
    when the profile sets no paper-size encoder."""
    if profile.eval.latency_paper_encoder is None:
        return None
    return pd.read_csv(_measure_paper_size_latency.run(profile) / "latency_per_query.csv", dtype={"qid": str})


def _dense_students(profile: Profile) -> list:
    return [student_call(profile, "student", c) for c in dense_cells(profile)]


@stage("dense", sections=("data", "eval.measures", "eval.dense_index", "eval.dense_corpus", "eval.batch_size"),
       depends_on=("student",),
       upstream=_dense_students)
def _dense_retrieval(profile: Profile, out: Path) -> None:
    from kdlib.data.irds import measures_for
    from kdlib.data.sources import source_for
    from kdlib.eval.dense import dense_retrieval, encode_corpus
    from kdlib.eval.measures import evaluate, evaluate_per_query

    source = source_for(profile.data)
    # Every test set: data.test with the profile's measures, each eval dataset with its own
    # (MRR@10 on the dev sample, the measure of the paper's dense claim on MSMARCO-DEV).
    test_sets = {profile.data.test: (splits(profile).test, profile.eval.measures),
                 **{name: (_with_candidates(profile, source, name), measures_for(name))
                    for name in profile.data.eval_datasets}}
    measure_rows, stat_rows, query_rows = [], [], []
    for cell in dense_cells(profile):
        run = student(profile, cell.arch, cell.teacher, cell.loss)
        model = run.load_model()
        shared, shared_seconds = None, 0.0  # the whole collection ("all") is the same for every test set: encoded once
        for name, (dataset, measures) in test_sets.items():
            corpus = source.passages_to_index(dataset, profile.eval.dense_corpus)
            if profile.eval.dense_corpus == "all" and shared is None:
                start = time.perf_counter()
                shared = encode_corpus(model, corpus, batch_size=profile.eval.batch_size)
                shared_seconds = time.perf_counter() - start
            result = dense_retrieval(model, dataset, corpus, index_kinds=profile.eval.dense_index,
                                     k=min(1000, len(corpus)), batch_size=profile.eval.batch_size, encoded=shared)
            encode_seconds = shared_seconds if shared is not None else result.encode_seconds
            qrels = dataset.qrels  # a test set holds the judgements of its own queries only
            for kind, dense_run in result.runs.items():
                for m, v in evaluate(dense_run, qrels, measures).items():
                    measure_rows.append({"dataset": name, "teacher": cell.teacher, "index": kind, "measure": m,
                                         "value": v})
                for r in evaluate_per_query(dense_run, qrels, measures).itertuples():
                    query_rows.append({"dataset": name, "teacher": cell.teacher, "index": kind, "qid": r.qid,
                                       "measure": r.measure, "value": r.value})
                stat_rows.append({"dataset": name, "teacher": cell.teacher, "index": kind,
                                  "passages": result.n_passages, "dim": result.dim,
                                  "index_mb": result.index_bytes[kind] / 2**20,
                                  "build_s": result.build_seconds[kind],
                                  "search_ms_per_query": result.search_ms_per_query[kind],
                                  "query_encode_ms": result.query_encode_ms_per_query,
                                  "corpus_encode_s": encode_seconds,
                                  "passages_per_s": result.n_passages / encode_seconds if encode_seconds > 0 else 0.0})
    artifacts.write_csv(out / "per_query.csv", pd.DataFrame(query_rows))
    artifacts.write_csv(out / "measures.csv", pd.DataFrame(measure_rows))
    artifacts.write_csv(out / "stats.csv", pd.DataFrame(stat_rows))


def _with_candidates(profile: Profile, source, name: str):
    """Eval dataset ``name`` (its test queries) with its candidate runs, whose passages are the
    ``test`` dense corpus: a full-scale source loads an eval dataset without them."""
    import dataclasses
    import types

    dataset = test_set(profile, name)
    if dataset.runs or profile.eval.dense_corpus != "test":
        return dataset
    runs = source.candidate_runs(name, qids=dataset.judged_qids(), depth=profile.data.rerank_depth)
    return dataclasses.replace(dataset, runs=types.MappingProxyType(runs))


def dense(profile: Profile, dataset: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dense retrieval with the BERT_DOT students (baseline, T1, T2) over test set ``dataset``'s
    corpus (default ``data.test``; each of ``data.eval_datasets`` is searched too).

    Returns:
        ``(measures, stats)``: rows (teacher, index, measure, value), and per (teacher, index)
        the index size, build time, query time and corpus size.
    """
    out = _dense_retrieval.run(profile)
    name = dataset or profile.data.test
    frames = [pd.read_csv(out / f) for f in ("measures.csv", "stats.csv")]
    measures, stats = (f[f["dataset"] == name].drop(columns="dataset").reset_index(drop=True) for f in frames)
    return measures, stats


def dense_per_query(profile: Profile, index: str = "Flat", measure: str = "nDCG@10",
                    dataset: str | None = None) -> dict[str, pd.Series]:
    """Per-query ``measure`` of BERT_DOT dense retrieval on test set ``dataset`` (default
    ``data.test``), by teacher (``baseline``, ``T1``, ``T2``)."""
    frame = pd.read_csv(_dense_retrieval.run(profile) / "per_query.csv", dtype={"qid": str})
    frame = frame[(frame["dataset"] == (dataset or profile.data.test)) & (frame["index"] == index)
                  & (frame["measure"] == measure)]
    return {t: part.set_index("qid")["value"] for t, part in frame.groupby("teacher")}
