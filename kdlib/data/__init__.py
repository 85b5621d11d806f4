"""Data: the embedded TREC DL pack, MS MARCO / TREC formats, ir_datasets, training triples.

- :mod:`kdlib.data.pack`      find, verify and fetch the pack
- :mod:`kdlib.data.formats`   streaming readers and atomic writers of the file formats
- :mod:`kdlib.data.datasets`  :class:`Dataset` and :func:`load_dataset` (TREC DL 2019-2022, and
  ``msmarco-dev-sample``: 450 MS MARCO dev queries with their BM25 top 20, measured with MRR@10)
- :mod:`kdlib.data.triples`   query splits and label triples
- :mod:`kdlib.data.irds`      the same shapes at full scale via ``ir_datasets``, streamed
- :mod:`kdlib.data.download`, :mod:`kdlib.data.teacher_files`  resumable, verified downloads of
  the published teacher files
- :mod:`kdlib.data.teacher_stream`  teacher files / id triples -> training examples, streamed
"""
from __future__ import annotations

from kdlib.data.datasets import (
    DATASET_RUNS,
    DATASETS,
    DEV_SAMPLE,
    PACK_DATASETS,
    PACK_MEASURES,
    RUNS,
    TEACHER_RUNS,
    Dataset,
    dataset_stats,
    load_dataset,
    merge_datasets,
    qid_sort_key,
)
from kdlib.data.formats import (
    DevSampleHit,
    DevSampleQuery,
    ExpandReport,
    RankLLMRun,
    TeacherScore,
    expand_teacher_scores,
    read_collection,
    read_dev_sample_json,
    read_qrels,
    read_queries,
    read_rank_llm_json,
    read_run,
    read_teacher_scores,
    read_top1000,
    read_triples_ids,
    read_triples_text,
    write_run,
    write_teacher_scores,
)
from kdlib.data.irds import (
    IRDS_DATASETS,
    Candidates,
    LazyPassages,
    candidate_run,
    irds_triples,
    iter_candidates,
    iter_triples,
    load_irds,
    measures_for,
)
from kdlib.data.teacher_files import fetch_teachers, published_teacher_file, teacher_dir
from kdlib.data.teacher_stream import (
    StreamStats,
    fetch_texts,
    irds_training_examples,
    iter_teacher_examples,
    iter_triple_examples,
)
from kdlib.data.pack import SOURCES, PackSource, fetch_pack, load_checksums, pack_dir, verify_pack
from kdlib.data.triples import (
    Splits,
    Triple,
    sample_candidate_pairs,
    sample_label_triples,
    split_queries,
    training_origins,
    training_qids,
    training_splits,
)

__all__ = [
    "DATASETS",
    "DATASET_RUNS",
    "DEV_SAMPLE",
    "PACK_DATASETS",
    "PACK_MEASURES",
    "RUNS",
    "TEACHER_RUNS",
    "Dataset",
    "dataset_stats",
    "load_dataset",
    "merge_datasets",
    "qid_sort_key",
    "DevSampleHit",
    "DevSampleQuery",
    "ExpandReport",
    "RankLLMRun",
    "TeacherScore",
    "expand_teacher_scores",
    "read_collection",
    "read_dev_sample_json",
    "read_qrels",
    "read_queries",
    "read_rank_llm_json",
    "read_run",
    "read_teacher_scores",
    "read_top1000",
    "read_triples_ids",
    "read_triples_text",
    "write_run",
    "write_teacher_scores",
    "IRDS_DATASETS",
    "Candidates",
    "LazyPassages",
    "candidate_run",
    "irds_triples",
    "iter_candidates",
    "iter_triples",
    "load_irds",
    "measures_for",
    "fetch_teachers",
    "published_teacher_file",
    "teacher_dir",
    "StreamStats",
    "fetch_texts",
    "irds_training_examples",
    "iter_teacher_examples",
    "iter_triple_examples",
    "SOURCES",
    "PackSource",
    "fetch_pack",
    "load_checksums",
    "pack_dir",
    "verify_pack",
    "Splits",
    "Triple",
    "sample_candidate_pairs",
    "sample_label_triples",
    "split_queries",
    "training_origins",
    "training_qids",
    "training_splits",
]
