"""Where a profile's datasets come from: one interface, one class per source.

A profile names its source (``data.source``):

- ``embedded``: the TREC DL pack (:mod:`kdlib.data.pack`, :func:`kdlib.data.datasets.load_dataset`),
  every dataset in memory with its published runs;
- ``ir_datasets``: MS MARCO at full scale (:mod:`kdlib.data.irds`), passages fetched lazily
  from a docs store, candidate lists streamed, the official training triples by id.

The stages above ask their source, never "are we at full scale?": the same code runs on the
pack, on a miniature ``IR_DATASETS_HOME`` and on the real MS MARCO.
"""
from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping, Sequence

from kdlib.core.errors import ConfigError
from kdlib.data.datasets import Dataset, load_dataset
from kdlib.data.examples import Triple
from kdlib.data.formats import ranked

if TYPE_CHECKING:
    from kdlib.core.profiles import DataConfig

Run = Mapping[str, Mapping[str, float]]


class DataSource(ABC):
    """What the pipeline needs of a source of datasets."""

    #: The value of ``data.source`` that selects this source.
    name: ClassVar[str]

    @abstractmethod
    def load(self, name: str, *, max_queries: int | None, candidates: bool, depth: int,
             runs: Sequence[str] | None = None) -> Dataset:
        """Dataset ``name``, capped at ``max_queries`` judged queries.

        Args:
            candidates: whether its candidate lists are needed (a source may skip huge ones).
            depth: candidates per query a source reads when it reads them.
            runs: the runs to load (``None``: all the dataset has).
        """

    @abstractmethod
    def candidate_runs(self, name: str, *, qids: Sequence[str], depth: int) -> dict[str, Run]:
        """The candidate runs of ``qids`` in dataset ``name`` (run name -> run), ``depth`` deep."""

    @abstractmethod
    def iter_candidates(self, name: str, *, run: str, depth: int, qids: Sequence[str]) -> Iterator[Any]:
        """The first-stage candidates of ``qids`` in dataset ``name``, one query at a time, in
        rank order (:class:`kdlib.data.irds.Candidates`: qid, pids, descending scores), at
        most ``depth`` each; queries without candidates are skipped."""

    def official_triples(self, config: DataConfig, queries: Mapping[str, str]) -> Iterator[Triple]:
        """The dataset's own training triples whose query is in ``queries``, in file order,
        at most ``data.max_train_triples`` (``data.train_triples: official``).

        Raises:
            ConfigError: the source has no official triples.
        """
        raise ConfigError(f"data.train_triples: official needs a source with training triples; "
                          f"{self.name!r} has none (use data.train_triples: sampled)")

    def passages_to_index(self, test: Dataset, scope: str) -> Mapping[str, str]:
        """The passages dense retrieval indexes: the whole collection (``all``) or only the
        passages of the test dataset's runs (``test``). An in-memory dataset already holds
        only its runs' passages."""
        return test.passages


class EmbeddedPack(DataSource):
    """The TREC DL pack: every dataset in memory, with its published runs."""

    name = "embedded"

    def load(self, name: str, *, max_queries: int | None, candidates: bool, depth: int,
             runs: Sequence[str] | None = None) -> Dataset:
        return load_dataset(name, max_queries=max_queries, runs=runs)

    def candidate_runs(self, name: str, *, qids: Sequence[str], depth: int) -> dict[str, Run]:
        return dict(load_dataset(name).subset(qids).runs)

    def iter_candidates(self, name: str, *, run: str, depth: int, qids: Sequence[str]) -> Iterator[Any]:
        from kdlib.data.irds import Candidates

        ranking = load_dataset(name).runs[run]
        for qid in qids:
            top = ranked(ranking.get(qid, {}), depth)
            if top:
                yield Candidates(qid, [pid for pid, _ in top], [float(score) for _, score in top])


class IrDatasets(DataSource):
    """MS MARCO (and TREC-DL'19/'20 on its collection) through ``ir_datasets``, streamed."""

    name = "ir_datasets"

    def load(self, name: str, *, max_queries: int | None, candidates: bool, depth: int,
             runs: Sequence[str] | None = None) -> Dataset:
        # An ir_datasets dataset has one run, its BM25 candidates (``candidates``): ``runs`` is moot.
        from kdlib.data.irds import load_irds

        dataset = load_irds(name, candidates=candidates, depth=depth)
        if max_queries is not None:
            dataset = dataset.subset(dataset.judged_qids()[:max_queries])
        return dataset

    def candidate_runs(self, name: str, *, qids: Sequence[str], depth: int) -> dict[str, Run]:
        from kdlib.data.irds import SCOREDDOCS_RUN, candidate_run

        return {SCOREDDOCS_RUN: candidate_run(name, depth=depth, qids=qids)}

    def iter_candidates(self, name: str, *, run: str, depth: int, qids: Sequence[str]) -> Iterator[Any]:
        # An ir_datasets dataset has one candidate run, its scoreddocs (MS MARCO's BM25 top-1000).
        from kdlib.data.irds import iter_candidates

        return iter_candidates(name, depth=depth, qids=qids)

    def official_triples(self, config: DataConfig, queries: Mapping[str, str]) -> Iterator[Triple]:
        # Streamed from the docpairs of every training dataset, in file order: the published
        # teacher files score the same triples in the same order.
        from kdlib.data.irds import iter_triples

        streams = (iter_triples(name) for name in config.train)
        kept = (t for t in itertools.chain.from_iterable(streams) if t.qid in queries)
        return itertools.islice(kept, config.max_train_triples)

    def passages_to_index(self, test: Dataset, scope: str) -> Mapping[str, str]:
        # MS MARCO's 8.8M passages whole (``all``), or the test runs' passages in one batch.
        from kdlib.data.teacher_stream import fetch_texts

        if scope == "test":
            pids = {pid for run in test.runs.values() for ranked in run.values() for pid in ranked}
            return fetch_texts(test.passages, pids)
        return test.passages


#: The sources by their ``data.source`` name.
SOURCES: Mapping[str, type[DataSource]] = {cls.name: cls for cls in (EmbeddedPack, IrDatasets)}


def source_for(config: DataConfig) -> DataSource:
    """The source a profile's ``data`` section names."""
    try:
        return SOURCES[config.source]()
    except KeyError:
        raise ConfigError(f"data.source: {config.source!r} is not a source; expected one of {sorted(SOURCES)}") from None


def official_triples(config: DataConfig, train: Dataset) -> list[Triple]:
    """:meth:`DataSource.official_triples` of ``train``'s queries, as a list (for the
    statistics of smaller runs).

    Raises:
        ConfigError: no official triple has a training query.
    """
    triples = list(source_for(config).official_triples(config, train.queries))
    if not triples:
        raise ConfigError(f"no official triple of {list(config.train)} has a training query")
    return triples


def official_examples(config: DataConfig, train: Dataset) -> Any:
    """Label-only training examples of the official triples, held by id
    (:class:`kdlib.data.id_examples.IdTripleExamples`): 16M triples take about 40 bytes each,
    not their texts' gigabytes; the training loop fetches the texts of each batch."""
    from kdlib.data.id_examples import IdTripleExamples

    triples = source_for(config).official_triples(config, train.queries)
    return IdTripleExamples.from_triples(triples, train.queries, train.passages)
