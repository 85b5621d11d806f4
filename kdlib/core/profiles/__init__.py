"""Profiles: every hyper-parameter of a run, as frozen dataclasses loaded from YAML.

A profile is the single source of configuration. Three ship with kdlib:

- ``tiny``: random tiny encoders and a handful of queries; every stage runs in seconds (tests).
- ``embedded``: real MiniLM weights and the TREC DL pack; the default of ``make book``.
- ``msmarco``: the paper's setup at full scale (MS MARCO via ir_datasets, GPUs).

Load one with :func:`load` (a name or a path to a YAML file) and derive variants with
:func:`override`, which takes dotted keys (``{"train.max_steps": 10}``).
"""
from __future__ import annotations

import collections.abc
import dataclasses
import hashlib
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

import yaml

from kdlib.core.errors import ConfigError

PROFILE_DIR = Path(__file__).parent
#: A decimal number literal, e.g. ``3e-5``, ``1.5``, ``-2``.
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
PROFILE_NAMES = ("tiny", "embedded", "msmarco")


@dataclass(frozen=True)
class DataConfig:
    """Which queries, passages and labels a run sees.

    Attributes:
        source: where the datasets come from (:mod:`kdlib.data.sources`): ``embedded`` (the
            TREC DL pack) or ``ir_datasets`` (MS MARCO at full scale, streamed).
        train: datasets whose judged queries train students and our own teacher.
        test: the dataset every model is evaluated on (never trained or tuned on).
        candidates: the first-stage run that is re-ranked at test time.
        eval_datasets: further datasets every final model is evaluated on besides ``test``
            (full scale: MSMARCO-DEV); each is measured with
            :func:`kdlib.data.irds.measures_for`.
        train_triples: ``sampled`` (label triples sampled from qrels and candidates) or
            ``official`` (the dataset's own training triples, e.g. MS MARCO's
            ``triples-small``, streamed by id).
        validation_queries: training queries held out (fixed by ``seed``) for validation.
        validation_from: training datasets the validation queries are drawn from (``None``:
            all of ``train``).
        teacher_runs_from: training datasets of the embedded pack whose published teacher runs
            (:data:`kdlib.data.datasets.TEACHER_RUNS`) training sees (``None``: all). A training
            dataset not listed is loaded with its first-stage runs (and ``candidates``) only, so
            neither its teacher scores nor the passage texts only those runs carry reach
            training: its queries then train only through their labels. The test dataset keeps
            all its runs; the ``msmarco`` pack ignores this.
        validation_dataset: a dataset the validation queries are held out from instead of
            ``train`` (full scale: MSMARCO-DEV, since MS MARCO's training queries come
            without the BM25 lists validation re-ranks unless 11.5 GB are fetched); the
            held-out queries are left out of that dataset's evaluation.
        max_queries: cap on queries per dataset (``tiny``); ``None`` keeps all.
        rerank_depth: how many candidates of each query are re-ranked.
        validation_depth: candidates per validation query (``None``: ``rerank_depth``).
        max_train_triples: cap on the students' training triples (a seeded random subset;
            ``None`` keeps all). Teachers score only these, so it bounds scoring cost too.
        train_queries: at most this many of the students' training queries (a seeded subset
            of those the teachers cover; smaller caps give nested subsets); ``None`` keeps all.
        negatives_per_positive: sampled negatives per judged positive in label triples.
        candidate_pairs_per_query: pairs of candidates (top ``rerank_depth`` of ``candidates``)
            per training query that distillation adds to the label triples; teachers score them,
            the label-only baseline cannot use them (0: label triples only).
        positive_min_grade: smallest relevance grade that counts as a positive.
        query_max_len: query truncation in word pieces (paper: 30).
        passage_max_len: passage truncation in word pieces (paper: 200).
        seed: the seed of query splits and triple sampling.
    """

    source: Literal["embedded", "ir_datasets"] = "embedded"
    train: tuple[str, ...] = ("trec-dl-2020", "trec-dl-2021")
    test: str = "trec-dl-2019"
    candidates: str = "bm25"
    eval_datasets: tuple[str, ...] = ()
    train_triples: Literal["sampled", "official"] = "sampled"
    validation_queries: int = 12
    validation_from: tuple[str, ...] | None = None
    teacher_runs_from: tuple[str, ...] | None = None
    validation_dataset: str | None = None
    max_queries: int | None = None
    rerank_depth: int = 100
    validation_depth: int | None = None
    max_train_triples: int | None = None
    train_queries: int | None = None
    negatives_per_positive: int = 4
    candidate_pairs_per_query: int = 0
    positive_min_grade: int = 2
    query_max_len: int = 30
    passage_max_len: int = 200
    seed: int = 42

    @property
    def trains_on_official_triples(self) -> bool:
        """Whether students train on the dataset's own triples (``train_triples: official``)."""
        return self.train_triples == "official"


@dataclass(frozen=True)
class EncoderConfig:
    """The pre-trained encoder a model is built from.

    Attributes:
        name: an alias (``minilm``, ``splade-tiny``, ``tiny-random``, ``random:LAYERS:WIDTH``), a local
            path or a hub name.
        num_layers: keep only the first ``num_layers`` transformer layers (``None``: all).
    """

    name: str = "minilm"
    num_layers: int | None = None


@dataclass(frozen=True)
class TrainConfig:
    """The training loop's hyper-parameters (teachers and students alike).

    Attributes:
        batch_size: triples per optimiser step (paper: 32).
        learning_rate: AdamW learning rate of BERT-based models (paper: 7e-6).
        tk_learning_rate: learning rate of TK's non-kernel parameters (paper: 1e-5).
        tk_kernel_learning_rate: learning rate of TK's kernel weights (paper: 1e-4).
        weight_decay: AdamW weight decay.
        max_steps: optimiser steps of one run.
        warmup_steps: linear warm-up steps.
        schedule: decay after warm-up.
        grad_accum: micro-batches per optimiser step.
        max_grad_norm: gradient clipping (``0`` disables it).
        eval_every: validation every this many steps (``0``: only at the end).
        log_every: training-log row every this many steps.
        checkpoint_every: resumable checkpoint every this many steps.
        early_stopping_patience: validations without improvement before stopping (``None``: never).
        precision: ``auto`` (bf16 where the device runs it natively, else fp16 with a
            gradient scaler on CUDA, else fp32), or ``bf16``, ``fp16``, ``fp32`` forced
            (see :func:`kdlib.runtime.precision.resolve_precision`).
        bf16: kept for older configs: ``False`` under ``precision: auto`` means fp32.
        dropout: dropout probability during training (0 is faster on CPU).
        seed: model initialisation and data order.
        num_threads: torch threads (``None``: all cores).
    """

    batch_size: int = 32
    learning_rate: float = 7e-6
    tk_learning_rate: float = 1e-5
    tk_kernel_learning_rate: float = 1e-4
    weight_decay: float = 0.01
    max_steps: int = 1000
    warmup_steps: int = 50
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    eval_every: int = 0
    log_every: int = 10
    checkpoint_every: int = 100
    early_stopping_patience: int | None = None
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    bf16: bool = True
    dropout: float = 0.0
    seed: int = 42
    num_threads: int | None = None


@dataclass(frozen=True)
class PublishedFile:
    """One published teacher-score file and how to check it.

    Attributes:
        url: where it is downloaded from.
        md5: its MD5 digest (hex), checked after every download (``None``: not checked).
        size: its size in bytes, checked before the digest (``None``: not checked).
    """

    url: str
    md5: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if self.md5 is not None and (len(self.md5) != 32 or any(c not in "0123456789abcdef" for c in self.md5)):
            raise ConfigError(f"md5 of {self.url} must be 32 lower-case hex digits, got {self.md5!r}")
        if self.size is not None and self.size < 0:
            raise ConfigError(f"size of {self.url} must be >= 0, got {self.size}")

    @property
    def filename(self) -> str:
        """The file name the URL ends with (without a query string)."""
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class TeacherConfig:
    """Teachers: published runs used as score files, and our own BERT_CAT teacher.

    Attributes:
        t1: the single teacher (a published run name, or ``own`` for our BERT_CAT).
        t2: members of the mean ensemble.
        normalisation: how teacher scores are put on a common scale before averaging
            (``zscore``: per teacher over all its training scores, then times ``scale``).
        scale: the standard deviation teacher scores get after normalisation.
        unscored: a pair that a published run did not score (it is outside the run's top-k):
            ``query_min`` gives it that run's lowest score for the query; ``drop`` removes
            every triple with such a pair for any member of any teacher, so that all teachers
            distil on the same fully scored triples.
        train_own: whether the profile trains our own BERT_CAT teacher (chapter 2; the
            reference of claim 4, and the teacher of ``student.own_teacher_architectures``).
            Without it claim 4 compares the students with T1 itself, as the paper does.
        own_encoder: encoder of our own BERT_CAT teacher.
        own_train: training of our own BERT_CAT teacher (RankNet on label triples).
        published_files: full scale only: teacher name (``T1``, ``T2``) -> the published
            teacher-score file (:class:`PublishedFile`: URL, MD5, size), fetched by
            ``kdlib data fetch-teachers``.
    """

    t1: str = "rep_llama"
    t2: tuple[str, ...] = ("rep_llama", "splade_pp", "tas_b")
    normalisation: Literal["zscore", "none"] = "zscore"
    scale: float = 4.0
    unscored: Literal["query_min", "drop"] = "query_min"
    train_own: bool = True
    own_encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig("minilm", None))
    own_train: TrainConfig = field(default_factory=TrainConfig)
    published_files: Mapping[str, PublishedFile] = field(default_factory=dict)


@dataclass(frozen=True)
class StudentConfig:
    """The student side of the distillation matrix.

    Attributes:
        encoder: the encoder every BERT-based student starts from.
        architectures: students trained in the matrix.
        teachers: teacher settings of the matrix (``baseline`` = labels only, RankNet).
        loss: the distillation loss of the main matrix.
        loss_comparison: losses compared against ``loss``.
        loss_comparison_architectures: students in the loss comparison.
        loss_comparison_teacher: the teacher of the loss comparison.
        own_teacher_architectures: students also distilled (with ``loss``) from our own trained
            BERT_CAT teacher (teacher setting ``own``).
        ablation_architectures: students also distilled from T2 on fully scored pairs only
            (teacher setting ``T2_scored``: ``teacher.unscored: drop``), to measure what
            imputing unscored pairs does.
        training_sizes: numbers of training queries (below the full set) at which every
            architecture's T1 student is also trained, to measure how its test score moves
            with the number of training queries (``data.train_queries``).
        options: per-architecture model options (e.g. ``colbert: {compression_dim: 128}``).
    """

    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig("minilm", 3))
    architectures: tuple[str, ...] = ("bert_cat", "bert_dot", "colbert", "prett", "tk")
    teachers: tuple[str, ...] = ("baseline", "T1", "T2")
    loss: str = "margin_mse"
    loss_comparison: tuple[str, ...] = ("pointwise_mse", "weighted_ranknet", "kl_div")
    loss_comparison_architectures: tuple[str, ...] = ("bert_dot", "colbert")
    loss_comparison_teacher: str = "T2"
    own_teacher_architectures: tuple[str, ...] = ("bert_dot", "colbert")
    ablation_architectures: tuple[str, ...] = ()
    training_sizes: tuple[int, ...] = ()
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation and efficiency measurement.

    Attributes:
        measures: ir-measures names reported everywhere.
        batch_size: pairs per scoring batch.
        latency_queries: test queries timed for latency (``None``: all).
        latency_repeats: timed repetitions per query (after one warm-up).
        latency_threads: torch CPU threads of the timed calls, in both latency measurements
            (``None``: torch's default, all cores). On a CPU other jobs share, one thread gives
            stable figures where two swing by a factor of 40 (:mod:`kdlib.eval.latency`).
        latency_paper_encoder: the encoder of a second latency measurement at the paper's model
            size (chapter 6, claim 5): every architecture built from it, untrained, since latency
            does not depend on the weights; e.g. ``random:6:768``, DistilBERT's shape with random
            weights. ``None``: the students are timed only at their own size (a profile whose
            students are already paper-sized).
        latency_paper_queries: test queries timed at the paper's size (the first ones of
            ``latency_queries``' order): a 6-layer, 768-wide BERT_CAT costs seconds per query on a CPU.
        latency_paper_depth: candidates re-ranked per query at the paper's size (the paper re-ranks
            1,000; two CPU cores afford about ten at DistilBERT size).
        dense_index: faiss index types compared in dense retrieval.
        dense_corpus: ``test`` (passages in the test dataset's runs) or ``all`` (every run of the pack).
        significance: the paired test between a run and its baseline.
    """

    measures: tuple[str, ...] = ("nDCG@10", "RR(rel=2)@10", "R(rel=2)@100", "R(rel=2)@1000")
    batch_size: int = 128
    latency_queries: int | None = None
    latency_repeats: int = 3
    latency_threads: int | None = None
    latency_paper_encoder: str | None = None
    latency_paper_queries: int = 3
    latency_paper_depth: int = 20
    dense_index: tuple[str, ...] = ("Flat", "HNSW32")
    dense_corpus: Literal["test", "all"] = "test"
    significance: Literal["ttest", "wilcoxon"] = "ttest"


@dataclass(frozen=True)
class Profile:
    """One complete configuration of the reproduction.

    ``rates`` names the rate file (``kdlib/repro/rates/<name>.yaml`` or a path) whose measured
    throughput the dry run's GPU hours use (:mod:`kdlib.repro.estimate`); ``None``: FLOPs over
    an assumed device. It changes no result.
    """

    name: str
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: str = "auto"
    rates: str | None = None
    source: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=_jsonable))

    def fingerprint(self, *sections: str) -> str:
        """A short stable hash of the given sections (all when none), for artifact paths."""
        data = self.to_dict()
        data.pop("source", None)  # where a profile was read from does not change results
        if sections:
            data = {s: _dotted_get(data, s) for s in sections}
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {value!r}")


def _dotted_get(data: Mapping[str, Any], key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Construct dataclass ``cls`` from ``values``, recursing into nested dataclasses."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)} for {cls.__name__}; "
            f"expected some of {', '.join(sorted(known))}"
        )
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return tuple(value)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
        return value
    if origin is collections.abc.Mapping and len(args) == 2 and dataclasses.is_dataclass(args[1]):
        # name -> dataclass (e.g. teacher.published_files). A plain dict, like the other
        # mappings of a profile, so that dataclasses.asdict() works on the whole profile.
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {key: item if isinstance(item, args[1]) else _build(args[1], item, f"{where}.{key}")
                for key, item in value.items()}
    if origin in (Mapping, dict) or hint is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return types.MappingProxyType(dict(value))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float:
        # YAML 1.1 (PyYAML) reads 3e-5, without a dot in the mantissa, as a string.
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint in (int, str, bool) and not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


#: Settings that must be positive, and those that may be zero but not negative (``None``, where
#: a setting allows it, is always accepted). The same rules hold for teacher.own_train.
_TRAIN_POSITIVE = ("batch_size", "learning_rate", "tk_learning_rate", "tk_kernel_learning_rate", "max_steps",
                   "grad_accum", "log_every", "checkpoint_every")
_TRAIN_NON_NEGATIVE = ("weight_decay", "warmup_steps", "max_grad_norm", "eval_every", "early_stopping_patience",
                       "dropout")
POSITIVE: tuple[str, ...] = (
    "data.rerank_depth", "data.validation_depth", "data.max_train_triples", "data.max_queries", "data.train_queries",
    "data.negatives_per_positive", "data.query_max_len", "data.passage_max_len",
    *(f"train.{k}" for k in _TRAIN_POSITIVE), *(f"teacher.own_train.{k}" for k in _TRAIN_POSITIVE),
    "eval.batch_size", "eval.latency_queries", "eval.latency_repeats", "eval.latency_paper_queries",
    "eval.latency_paper_depth", "eval.latency_threads",
)
NON_NEGATIVE: tuple[str, ...] = (
    "data.validation_queries", "data.candidate_pairs_per_query",
    *(f"train.{k}" for k in _TRAIN_NON_NEGATIVE), *(f"teacher.own_train.{k}" for k in _TRAIN_NON_NEGATIVE),
)


def check_ranges(profile: Profile, where: str) -> Profile:
    """``profile`` if every setting of :data:`POSITIVE` / :data:`NON_NEGATIVE` is in range (and
    no student is distilled from an own teacher the profile does not train, and a paper-size
    latency measurement times at least two queries, as a paired test needs).

    Raises:
        ConfigError: naming the first key out of range, its value and what it must be.
    """
    if not profile.teacher.train_own and profile.student.own_teacher_architectures:
        raise ConfigError(f"{where}: student.own_teacher_architectures needs teacher.train_own: true, got "
                          f"{list(profile.student.own_teacher_architectures)} with train_own false")
    if profile.eval.latency_paper_encoder is not None and profile.eval.latency_paper_queries < 2:
        raise ConfigError(f"{where}: eval.latency_paper_queries must be at least 2 (claim 5 pairs the timed queries), "
                          f"got {profile.eval.latency_paper_queries!r}")
    for keys, smallest, words in ((POSITIVE, 0, "positive"), (NON_NEGATIVE, -1, "zero or more")):
        for key in keys:
            value = profile
            for part in key.split("."):
                value = getattr(value, part)
            if value is not None and not value > smallest and not (smallest < 0 and value == 0):
                raise ConfigError(f"{where}: {key} must be {words}, got {value!r}")
    return profile


def load(name_or_path: str | os.PathLike) -> Profile:
    """Load a profile by name (``tiny``, ``embedded``, ``msmarco``) or from a YAML file.

    Raises:
        ConfigError: the file is missing, not YAML, or does not fit the schema.
    """
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = PROFILE_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"no profile {name_or_path!r}: expected one of {PROFILE_NAMES} or a YAML file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    values.setdefault("name", path.stem)
    values["source"] = str(path.resolve())
    return check_ranges(_build(Profile, values, str(path)), str(path))


def override(profile: Profile, overrides: Mapping[str, Any]) -> Profile:
    """Return ``profile`` with dotted-key overrides applied (validated like YAML values)."""
    data = profile.to_dict()
    for key, value in overrides.items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise ConfigError(f"override {key!r}: no section {part!r}")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"override {key!r}: unknown key {parts[-1]!r}")
        node[parts[-1]] = value
    where = f"profile {profile.name} with overrides"
    return check_ranges(_build(Profile, data, where), where)


def apply_overrides(profile: Profile, texts: Iterable[str]) -> Profile:
    """``profile`` with command-line ``KEY=VALUE`` overrides (``--set``) applied, in order.

    Raises:
        ConfigError: a malformed override, an unknown key or a value that does not fit.
    """
    texts = list(texts)
    return override(profile, dict(parse_override(t) for t in texts)) if texts else profile


def write(profile: Profile, path: str | os.PathLike) -> Path:
    """Write ``profile`` as a YAML file that :func:`load` reads back as an equal profile.

    Used to hand a profile with ``--set`` overrides to other processes (the book's kernels).

    Returns:
        ``path``.
    """
    from kdlib.core.artifacts import write_atomic

    values = profile.to_dict()
    values.pop("source", None)  # load() records where it read the file from
    path = Path(path)
    write_atomic(path, yaml.safe_dump(values, sort_keys=False))
    return path


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; the value is read as YAML (``3``, ``[a, b]``)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. train.max_steps=100")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)
