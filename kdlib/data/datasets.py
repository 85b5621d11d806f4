"""The datasets of the embedded pack as one in-memory shape, :class:`Dataset`.

A TREC DL dataset is one year of the TREC Deep Learning passage track: its queries, the
text of every passage that appears in one of its runs, its graded judgements (none for
2022) and the published runs of that year (BM25, BM25+RM3, TAS-B, SPLADE++, ada-002,
RepLLaMA).

``msmarco-dev-sample`` is 450 queries of the MS MARCO passage dev set, each with its BM25
top 20 and their texts (one JSON file per query), MS MARCO's official binary judgements
and query texts. Its one run, ``bm25``, keeps the files' rank order with the score
``hits - rank + 1`` (20 for rank 1 down to 1 for rank 20); the files carry no BM25 scores.
It is measured with MRR@10 counting relevance >= 1 (:data:`PACK_MEASURES`), as MS MARCO
dev is; the queries were chosen for a thesis, so its figures are not MS MARCO dev figures
(the pack's SOURCES.md says how).

The same shape is produced at full scale by :mod:`kdlib.data.irds`.
"""
from __future__ import annotations

import functools
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from kdlib.core.errors import ConfigError, FormatError
from kdlib.data.formats import RankLLMRun, read_dev_sample_json, read_qrels, read_queries, read_rank_llm_json, read_run
from kdlib.data.pack import dev_sample_files, pack_dir, verify_pack

#: The TREC DL years of the embedded pack (what the book's data chapter shows).
DATASETS = ("trec-dl-2019", "trec-dl-2020", "trec-dl-2021", "trec-dl-2022")
#: The MS MARCO dev sample: 450 dev queries with their BM25 top 20 (module docstring).
DEV_SAMPLE = "msmarco-dev-sample"
#: Every dataset of the embedded pack: the TREC DL years and the MS MARCO dev sample.
PACK_DATASETS = (*DATASETS, DEV_SAMPLE)
#: Run name used in kdlib -> the rank_llm folder that holds it.
RUNS = {
    "bm25": "BM25",
    "bm25_rm3": "BM25_RM3",
    "tas_b": "D_BERT_KD_TASB",
    "splade_pp": "SPLADE_P_P_ENSEMBLE_DISTIL",
    "ada2": "OPEN_AI_ADA2",
    "rep_llama": "REP_LLAMA",
}
#: The runs the pack holds for each dataset (see the pack's SOURCES.md).
DATASET_RUNS: dict[str, tuple[str, ...]] = {
    "trec-dl-2019": ("bm25", "bm25_rm3", "tas_b", "splade_pp", "ada2", "rep_llama"),
    "trec-dl-2020": ("bm25", "bm25_rm3", "tas_b", "splade_pp", "ada2", "rep_llama"),
    "trec-dl-2021": ("bm25", "bm25_rm3", "splade_pp"),
    "trec-dl-2022": ("bm25", "splade_pp"),
    DEV_SAMPLE: ("bm25",),
}
#: The runs of neural rankers, which serve as published teachers; BM25 and BM25+RM3 are
#: first-stage runs (see ``data.teacher_runs_from`` of :class:`kdlib.core.profiles.DataConfig`).
TEACHER_RUNS = ("tas_b", "splade_pp", "ada2", "rep_llama")
#: The measures (ir-measures names) of pack datasets that are not measured with the standard
#: four of :data:`DEFAULT_MEASURE_NAMES` (TREC DL's, which count grade >= 2 as
#: relevant). The dev sample judges with grade 1 only: MRR@10 and recall over its 20 hits
#: count rel >= 1, as for MSMARCO-DEV. Read through :func:`kdlib.data.irds.measures_for`.
PACK_MEASURES: Mapping[str, tuple[str, ...]] = types.MappingProxyType({DEV_SAMPLE: ("RR@10", "R@20")})
_SHORT = {"trec-dl-2019": "dl19", "trec-dl-2020": "dl20", "trec-dl-2021": "dl21", "trec-dl-2022": "dl22"}
_JUDGED = ("trec-dl-2019", "trec-dl-2020", "trec-dl-2021")
_DEV_QRELS = "qrels/qrels.msmarco-passage.dev-subset.txt"
_DEV_TOPICS = "qrels/topics.msmarco-passage.dev-subset.txt"

#: The measures a dataset is reported with unless it names its own (ir-measures names):
#: nDCG@10, MRR@10 and recall at 100 / 1000, binary measures counting grade >= 2 as relevant.
DEFAULT_MEASURE_NAMES: tuple[str, ...] = ("nDCG@10", "RR(rel=2)@10", "R(rel=2)@100", "R(rel=2)@1000")


def qid_sort_key(qid: str) -> tuple[int, int, str]:
    """Sort numeric ids by value, then any other ids by text (``"2" < "10" < "q1"``)."""
    return (0, int(qid), "") if qid.isdigit() else (1, 0, qid)


def _frozen(nested: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Mapping[str, Any]]:
    # Datasets are cached per process and shared: read-only views stop one caller from
    # changing what the next one sees.
    return types.MappingProxyType({key: types.MappingProxyType(dict(inner)) for key, inner in nested.items()})


@dataclass(frozen=True)
class Dataset:
    """Queries, passages, judgements and runs of one or more datasets of the pack.

    Attributes:
        name: the dataset name (``+``-joined when several are merged).
        queries: qid -> query text (string ids).
        passages: pid -> passage text, every passage with text in any run of the dataset.
        qrels: qid -> pid -> graded relevance (TREC DL: 0-3; the dev sample: 1), or
            ``None`` without judgements.
        runs: run name -> qid -> pid -> the system's score.
    """

    name: str
    queries: Mapping[str, str]
    passages: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]] | None
    runs: Mapping[str, Mapping[str, Mapping[str, float]]]

    def subset(self, qids: Iterable[str]) -> Dataset:
        """The dataset restricted to ``qids`` (queries, qrels and runs; passages stay).

        Raises:
            KeyError: a qid is not a query of this dataset.
        """
        keep = set(qids)
        unknown = keep - set(self.queries)
        if unknown:
            raise KeyError(f"{self.name}: no queries {sorted(unknown, key=qid_sort_key)[:5]}")
        return Dataset(
            name=self.name,
            queries=types.MappingProxyType({q: t for q, t in self.queries.items() if q in keep}),
            passages=self.passages,
            qrels=None if self.qrels is None else types.MappingProxyType({q: j for q, j in self.qrels.items() if q in keep}),
            runs=types.MappingProxyType(
                {name: types.MappingProxyType({q: r for q, r in run.items() if q in keep}) for name, run in self.runs.items()}
            ),
        )

    def judged_qids(self) -> list[str]:
        """Queries with at least one judgement, in :func:`qid_sort_key` order."""
        if self.qrels is None:
            return []
        return sorted((q for q, judged in self.qrels.items() if judged and q in self.queries), key=qid_sort_key)


def _run_file(name: str, run: str) -> str:
    short = _SHORT[name]
    if run == "rep_llama":
        return f"rank_llm/REP_LLAMA/trec_results_{short}.txt"
    return f"rank_llm/{RUNS[run]}/retrieve_results_{short}.json"


@functools.lru_cache(maxsize=None)
def _rank_llm(path: str) -> RankLLMRun:
    return read_rank_llm_json(path)


def _load_dev_sample(pack: Path, keep: tuple[str, ...]) -> Dataset:
    # The checksum list names the sample's files (pack.dev_sample_files); queries come from
    # the official topics (equal to the files' texts), judgements from the official qrels.
    queries: dict[str, str] = {}
    passages: dict[str, str] = {}
    run: dict[str, dict[str, float]] = {}
    topics = read_queries(pack / _DEV_TOPICS)
    for rel in dev_sample_files(verify_pack(pack)):
        sample = read_dev_sample_json(pack / rel)
        if sample.qid not in topics:
            raise FormatError(pack / _DEV_TOPICS, 0, f"the topic of query {sample.qid} ({rel})")
        queries[sample.qid] = topics[sample.qid]
        run[sample.qid] = {hit.pid: float(len(sample.hits) - hit.rank + 1) for hit in sample.hits}
        for hit in sample.hits:
            passages.setdefault(hit.pid, hit.text)
    all_qrels = read_qrels(pack / _DEV_QRELS)
    kept = "bm25" in keep
    return Dataset(
        name=DEV_SAMPLE,
        queries=types.MappingProxyType(queries),
        passages=types.MappingProxyType(passages if kept else {}),
        qrels=_frozen({q: j for q, j in all_qrels.items() if q in queries}),
        runs=types.MappingProxyType({"bm25": _frozen(run)} if kept else {}),
    )


@functools.lru_cache(maxsize=None)
def _load_one(name: str, root: str, keep: tuple[str, ...]) -> Dataset:
    pack = Path(root)
    if name == DEV_SAMPLE:
        return _load_dev_sample(pack, keep)
    runs: dict[str, dict[str, dict[str, float]]] = {}
    passages: dict[str, str] = {}
    for run in keep:
        path = pack / _run_file(name, run)
        if path.suffix == ".txt":
            runs[run] = read_run(path)  # ids and scores only: its passages may lack text
            continue
        parsed = _rank_llm(str(path))
        runs[run] = parsed.run
        # The first run that has a passage gives its text (BM25 comes first): the files
        # agree on every text but for whitespace in a few (SOURCES.md), and so adding a
        # run to a year never changes a text that year already had.
        for pid, text in parsed.passages.items():
            passages.setdefault(pid, text)
    # The queries of a year are those of its BM25 run; for judged years they are exactly
    # the judged queries (43 / 54 / 53).
    queries = dict(_rank_llm(str(pack / _run_file(name, "bm25"))).queries)
    qrels = None
    if name in _JUDGED:
        all_qrels = read_qrels(pack / f"qrels/qrels.{_SHORT[name]}-passage.txt")
        qrels = _frozen({q: j for q, j in all_qrels.items() if q in queries})
    runs = {run: {q: r for q, r in by_q.items() if q in queries} for run, by_q in runs.items()}
    return Dataset(
        name=name,
        queries=types.MappingProxyType(queries),
        passages=types.MappingProxyType(passages),
        qrels=qrels,
        runs=types.MappingProxyType({run: _frozen(by_q) for run, by_q in runs.items()}),
    )


def _first_queries(dataset: Dataset, max_queries: int) -> Dataset:
    pool = dataset.judged_qids() or sorted(dataset.queries, key=qid_sort_key)
    return dataset.subset(pool[:max_queries])


def merge_datasets(datasets: Sequence[Dataset]) -> Dataset:
    """Merge datasets whose query ids are disjoint (TREC DL years are).

    Raises:
        ValueError: two datasets share a query id.
    """
    if len(datasets) == 1:
        return datasets[0]
    queries: dict[str, str] = {}
    passages: dict[str, str] = {}
    qrels: dict[str, Mapping[str, int]] = {}
    runs: dict[str, dict[str, Mapping[str, float]]] = {}
    for ds in datasets:
        shared = set(queries) & set(ds.queries)
        if shared:
            raise ValueError(f"cannot merge {ds.name}: query ids {sorted(shared)[:5]} also in an earlier dataset")
        queries.update(ds.queries)
        passages.update(ds.passages)
        qrels.update(ds.qrels or {})
        for name, run in ds.runs.items():
            runs.setdefault(name, {}).update(run)
    judged = any(ds.qrels is not None for ds in datasets)
    return Dataset(
        name="+".join(ds.name for ds in datasets),
        queries=types.MappingProxyType(queries),
        passages=types.MappingProxyType(passages),
        qrels=types.MappingProxyType(qrels) if judged else None,
        runs=types.MappingProxyType({k: types.MappingProxyType(v) for k, v in runs.items()}),
    )


def load_dataset(
    name: str | Sequence[str], *, max_queries: int | None = None, runs: Sequence[str] | None = None
) -> Dataset:
    """Load one dataset of the embedded pack, or several merged.

    The pack is located with :func:`kdlib.data.pack.pack_dir` and verified against its
    checksums once per process; parsed files are cached per process.

    Args:
        name: one of :data:`PACK_DATASETS`, or a sequence of them.
        max_queries: keep, per dataset, the first N judged queries in :func:`qid_sort_key`
            order (all queries in that order where a year has no judgements).
        runs: load only these of each dataset's runs (:data:`DATASET_RUNS`; one a dataset
            lacks is skipped); passages then come from these runs only. ``None``: all.

    Raises:
        ConfigError: an unknown dataset or run name (a ``ValueError`` too).
        ValueError: a negative ``max_queries``.
        DataMissingError: the pack is missing or damaged.
    """
    names = (name,) if isinstance(name, str) else tuple(name)
    unknown = [n for n in names if n not in PACK_DATASETS]
    if unknown or not names:
        raise ConfigError(f"unknown dataset(s) {unknown}: expected some of {PACK_DATASETS}")
    unknown = [r for r in runs or () if r not in RUNS]
    if unknown:
        raise ConfigError(f"unknown run(s) {unknown}: expected some of {tuple(RUNS)}")
    if max_queries is not None and max_queries < 0:
        raise ValueError(f"max_queries must be >= 0, got {max_queries}")
    root = pack_dir()
    verify_pack(root)
    parts = [_load_one(n, str(root), tuple(r for r in DATASET_RUNS[n] if runs is None or r in runs)) for n in names]
    if max_queries is not None:
        parts = [_first_queries(ds, max_queries) for ds in parts]
    return merge_datasets(parts)


def dataset_stats(dataset: Dataset) -> dict[str, Any]:
    """Counts that describe a dataset (for ``kdlib data check`` and the book).

    Returns:
        ``name``, ``queries``, ``judged_queries``, ``passages``, ``judgements``,
        ``grades`` (grade -> count), ``runs`` (run -> number of (query, passage) pairs)
        and ``passages_per_run`` (run -> pairs whose passage has text).
    """
    grades: Counter[int] = Counter()
    for judged in (dataset.qrels or {}).values():
        grades.update(judged.values())
    return {
        "name": dataset.name,
        "queries": len(dataset.queries),
        "judged_queries": len(dataset.judged_qids()),
        "passages": len(dataset.passages),
        "judgements": sum(grades.values()),
        "grades": dict(sorted(grades.items())),
        "runs": {name: sum(len(r) for r in run.values()) for name, run in dataset.runs.items()},
        "passages_per_run": {
            name: sum(pid in dataset.passages for r in run.values() for pid in r) for name, run in dataset.runs.items()
        },
    }
