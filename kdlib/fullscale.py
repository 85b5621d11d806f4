"""Stages of a profile whose data come from ``ir_datasets`` and whose teachers are published files.

The ``msmarco`` profile (the paper's setup) differs from the embedded pack in three ways that
the stages of :mod:`kdlib.experiments` and :mod:`kdlib.train.pipeline` hand over to here:

- training triples are the dataset's own (``data.train_triples: official``: MS MARCO's
  ``triples-small`` by id, :func:`official_triples`), their texts fetched in batches
  (:func:`official_examples`: held by id, texts fetched one batch at a time), never sampled
  from candidate lists the train split does not load;
- T1 and T2 are the published teacher files (``teacher.published_files``), fetched and
  checked on first use (:func:`published_file`), not runs of the dataset;
- every final model is also evaluated on ``data.eval_datasets`` (MSMARCO-DEV: MRR@10 with
  rel=1 and R@1000), re-ranking their BM25 top-``rerank_depth`` streamed
  (:func:`eval_dataset_metrics`).

Nothing here depends on the size of the data: the same code runs on a miniature
``IR_DATASETS_HOME`` and on the real one.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from kdlib.errors import ConfigError
from kdlib.profiles import Profile

#: The teacher settings a published file stands for.
FILE_TEACHERS = ("T1", "T2")


def uses_teacher_files(profile: Profile) -> bool:
    """Whether the profile's T1 / T2 are published teacher files (not runs of the dataset)."""
    return bool(profile.teacher.published_files)


def uses_official_triples(profile: Profile) -> bool:
    """Whether students train on the dataset's own triples (``data.train_triples: official``)."""
    return profile.data.train_triples == "official"


def iter_official_triples(profile: Profile, train: Any) -> Iterator[Any]:
    """The first ``data.max_train_triples`` official triples whose query is a training query.

    Streamed from the ``docpairs`` of every ``data.train`` dataset, in file order (the
    published teacher files score the same triples in the same order).
    """
    from kdlib.data.irds import iter_triples

    streams = (iter_triples(name) for name in profile.data.train)
    kept = (t for t in itertools.chain.from_iterable(streams) if t.qid in train.queries)
    return itertools.islice(kept, profile.data.max_train_triples)


def official_triples(profile: Profile, train: Any) -> list:
    """:func:`iter_official_triples` as a list (for the statistics of smaller runs).

    Raises:
        ConfigError: no official triple has a training query.
    """
    triples = list(iter_official_triples(profile, train))
    if not triples:
        raise ConfigError(f"no official triple of {list(profile.data.train)} has a training query")
    return triples


def official_examples(profile: Profile, train: Any):
    """Label-only training examples of the official triples, held by id
    (:class:`kdlib.train.id_examples.IdTripleExamples`): 16M triples take about 40 bytes each,
    not their texts' gigabytes; the training loop fetches the texts of each batch."""
    from kdlib.train.id_examples import IdTripleExamples

    return IdTripleExamples.from_triples(iter_official_triples(profile, train), train.queries, train.passages)


def teacher_file_limit(profile: Profile) -> int | None:
    """How many lines of a teacher file a student reads: a published file holds every official
    triple, of which students train on the first ``data.max_train_triples``."""
    return profile.data.max_train_triples if uses_official_triples(profile) else None


def published_file(profile: Profile, teacher: str) -> Path:
    """The published file of teacher ``T1`` / ``T2``, downloaded when missing, size and MD5 checked.

    Raises:
        ConfigError: ``teacher`` has no published file (e.g. the ``T2_scored`` ablation,
            which needs every member's own scores).
        DownloadError: the download failed or the file is damaged (named, with the fix).
    """
    from kdlib import artifacts
    from kdlib.data.teacher_files import fetch_teachers, teacher_dir

    files = profile.teacher.published_files
    if teacher not in files:
        raise ConfigError(
            f"teacher {teacher!r} has no published file (teacher.published_files has {sorted(files)}); "
            f"the published files hold one score per triple, so settings that need each member's "
            f"own scores ({', '.join(t for t in ('T2_scored',) if t not in files)}) cannot run on this profile"
        )
    # Kernels of one phase (`kdlib book --jobs`) may ask at once: one download per file.
    with artifacts.stage_lock(teacher_dir() / ".locks" / teacher):
        return fetch_teachers(files, [teacher], progress=False)[teacher]


def published_file_key(profile: Profile, teacher: str) -> dict[str, Any] | None:
    """What identifies a teacher's published file in a stage key (``None``: not a file)."""
    published = profile.teacher.published_files.get(teacher)
    if published is None:
        return None
    return {"url": published.url, "md5": published.md5, "size": published.size,
            "lines": teacher_file_limit(profile)}


def dense_corpus(profile: Profile, test: Any) -> Mapping[str, str]:
    """The passages dense retrieval indexes.

    A lazily read collection (``ir_datasets``) is indexed whole with ``eval.dense_corpus:
    all`` (MS MARCO: 8.8M passages), or only the passages of the test dataset's runs with
    ``test`` (fetched in one batch). An in-memory dataset already holds just its runs' passages.
    """
    from kdlib.data.teacher_stream import fetch_texts

    if profile.eval.dense_corpus == "test" and hasattr(test.passages, "get_many"):
        pids = {pid for run in test.runs.values() for ranked in run.values() for pid in ranked}
        return fetch_texts(test.passages, pids)
    return test.passages


def eval_dataset_metrics(
    profile: Profile,
    load_ranker: Callable[[], Any],
    out_dir: Path,
    *,
    exclude: Iterable[str] = (),
    tag: str = "kdlib",
) -> dict[str, dict[str, float]]:
    """Re-rank every ``data.eval_datasets`` dataset's candidates and measure the run.

    Each run is written once to ``out_dir/<dataset>.run`` (streamed: MSMARCO-DEV has 7M
    candidate pairs) and evaluated with the dataset's own measures
    (:func:`kdlib.data.irds.measures_for`).

    Args:
        profile: gives the datasets, ``data.rerank_depth`` and ``eval.batch_size``.
        load_ranker: called only when a run is missing.
        out_dir: the student's stage directory.
        exclude: queries left out (the validation queries held out of a dataset).
        tag: the run tag.

    Returns:
        dataset -> measure -> value.
    """
    from kdlib.data import irds
    from kdlib.evaluate import evaluate_run_file
    from kdlib.rerank import rerank_to_file

    excluded = set(exclude)
    out: dict[str, dict[str, float]] = {}
    ranker = None
    for name in profile.data.eval_datasets:
        dataset = irds.load_irds(name)
        qids = [q for q in dataset.judged_qids() if q not in excluded]
        qrels = {q: dataset.qrels[q] for q in qids}
        measures = irds.measures_for(name)
        path = out_dir / f"{name.replace('/', '__')}.run"
        if not path.is_file():
            ranker = ranker if ranker is not None else load_ranker()
            candidates = irds.iter_candidates(name, depth=profile.data.rerank_depth, qids=qids)
            rerank_to_file(ranker, dataset.queries, candidates, dataset.passages, path, tag=tag,
                           batch_size=profile.eval.batch_size)
        out[name] = evaluate_run_file(path, qrels, measures)
    return out


def eval_result_rows(metrics: Mapping[str, Mapping[str, float]], arch: str, teacher: str, loss: str) -> list[dict]:
    """results.csv rows of :func:`eval_dataset_metrics`."""
    return [{"dataset": name, "arch": arch, "teacher": teacher, "loss": loss, "measure": m, "value": v}
            for name, values in metrics.items() for m, v in values.items()]
