"""GPU-hour estimates of a profile's runs, for the dry run (``kdlib book --dry-run``).

Hours are work divided by a throughput, per run (our own teacher, every student of the
matrix, the untrained starts, dense retrieval), in three parts:

- **training**: ``max_steps x batch_size`` triples / training triples per second;
- **validation**: ``(max_steps // eval_every) x validation_queries x depth`` (query, passage)
  pairs / scoring pairs per second;
- **test re-ranking**: the pairs of the test and evaluation datasets / scoring pairs per second
  (our own teacher also scores every training triple, two pairs each).

The throughput comes from a **rate file** where one applies (:mod:`kdlib.repro.rates`: rates
measured by ``benchmarks/bench_train.py`` on a device, with their provenance; a profile names
one with ``rates:``, ``kdlib book --rates`` picks another): :class:`MeasuredThroughput`. What
the file does not hold is derived from what it does, and every rate says whether it is
measured or derived:

- another architecture: the measured architecture of the nearest FLOPs per training triple,
  times the ratio of their FLOPs (counted on the CPU by ``benchmarks/measure_flops.py`` into
  ``kdlib/repro/flops_per_triple.yaml``);
- scoring (forward only): 6 x the training rate in triples/s, since a training triple is two
  pairs, each a forward and a backward pass of twice the forward's FLOPs;
- another encoder: by layers x width^2 relative to the measured shape;
- another batch size: the measurement at the nearest batch, used as it is.

Only where no rate file applies (``rates: null``, ``--rates none``) is the old assumption
used, and labelled as one: :class:`AssumedThroughput`, ``FLOPs / (peak x utilisation)`` of
:data:`ASSUMED_DEVICE`. Every run is counted at ``max_steps``: early stopping can only shorten it.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Protocol

import yaml

from kdlib.core.profiles import Profile, TrainConfig
from kdlib.repro.rates import RATES_DIR, RateFile, load as load_rates

Basis = Literal["measured", "derived", "assumed"]


@dataclass(frozen=True)
class DeviceAssumption:
    """The device an estimate assumes where no rate was measured.

    Attributes:
        name: what it is, in words.
        peak_flops: its peak FLOP/s at the training precision.
        utilisation: the share of the peak a BERT training step reaches.
    """

    name: str
    peak_flops: float
    utilisation: float

    @property
    def flops(self) -> float:
        """The FLOP/s assumed reached."""
        return self.peak_flops * self.utilisation

    def describe(self) -> str:
        return (f"{self.name}: {self.peak_flops / 1e12:.1f} TFLOP/s peak at {self.utilisation:.0%} "
                f"utilisation = {self.flops / 1e12:.1f} TFLOP/s")


#: The paper trained on 11 GB GPUs (GTX 1080 Ti class); 30% of the fp32 peak is a common MFU
#: of BERT training at batch 32 without tensor cores.
ASSUMED_DEVICE = DeviceAssumption("one 11 GB GPU as in the paper (GTX 1080 Ti class, fp32)", 11.3e12, 0.30)
#: Training FLOPs of other encoders relative to DistilBERT's (6 layers, 768 wide): depth x width^2.
ENCODER_FACTORS = {"distilbert-base-uncased": 1.0, "bert-base-uncased": 2.0, "bert-large-uncased": 7.1,
                   # kdlib's aliases (layers x width^2 against DistilBERT's 6 x 768^2)
                   "minilm": 6 * 384**2 / (6 * 768**2), "splade-tiny": 2 * 128**2 / (6 * 768**2),
                   "tiny-random": 2 * 32**2 / (6 * 768**2)}
#: Queries of the full-scale evaluation datasets (ir_datasets' counts).
EVAL_QUERIES = {"msmarco-passage/dev/small": 6980, "msmarco-passage/trec-dl-2019/judged": 43}
#: Lines of MS MARCO's official small training triples (and of each published teacher file).
OFFICIAL_TRIPLES = 39_780_811
#: Passages of the MS MARCO collection (dense retrieval encodes them all).
COLLECTION_PASSAGES = 8_841_823
#: FLOPs of scoring one (query, passage) pair per training triple's: a triple is two pairs,
#: each run forward (1) and backward (2).
PAIR_SHARE = 1 / 6
#: Issue 19's target for the paper's main runs (baseline, T1 and T2 students of every
#: architecture) on one H100/H200-class GPU.
TARGET_HOURS = 24.0


@dataclass(frozen=True)
class FlopsTable:
    """Training FLOPs per triple by architecture, with where they come from."""

    flops_per_triple: Mapping[str, float]
    provenance: Mapping[str, Any]

    def describe(self) -> str:
        p = self.provenance
        return (f"FLOPs per training triple counted on the {p.get('measured_on', 'CPU')} "
                f"({p.get('date', '?')}, `{p.get('command', '?')}`) at DistilBERT size, query "
                f"{p.get('lengths', {}).get('query', '?')} / passage {p.get('lengths', {}).get('passage', '?')} tokens")

    def of(self, arch: str) -> float:
        """FLOPs of one training triple of ``arch`` (a :class:`KeyError` naming the table if absent)."""
        if arch not in self.flops_per_triple:
            raise KeyError(f"kdlib/repro/flops_per_triple.yaml has no architecture {arch!r}")
        return float(self.flops_per_triple[arch])


def flops_table() -> FlopsTable:
    """The stored FLOPs table (``kdlib/repro/flops_per_triple.yaml``)."""
    document = yaml.safe_load(resources.files("kdlib.repro").joinpath("flops_per_triple.yaml").read_text())
    return FlopsTable(document["flops_per_triple"], document["provenance"])


def known_encoder_factor(name: str) -> float | None:
    """Training cost of encoder ``name`` relative to DistilBERT: :data:`ENCODER_FACTORS`, or
    layers x width^2 of a ``random:LAYERS:WIDTH`` encoder (its shape is in its name);
    ``None`` for an encoder of unknown shape."""
    from kdlib.models.encoders import random_shape

    if name in ENCODER_FACTORS:
        return ENCODER_FACTORS[name]
    try:
        shape = random_shape(name)
    except ValueError:
        return None
    return None if shape is None else shape.layers * shape.width**2 / (6 * 768**2)


def encoder_factor(name: str) -> float:
    """Training cost of encoder ``name`` relative to DistilBERT (1.0 for an unknown one)."""
    factor = known_encoder_factor(name)
    return 1.0 if factor is None else factor


@dataclass(frozen=True)
class Rate:
    """A throughput and how it was obtained.

    Attributes:
        per_second: triples/s (training) or pairs/s (scoring).
        basis: ``measured`` (a rate file's figure as it is), ``derived`` (from a measured one)
            or ``assumed`` (FLOPs over an assumed device rate).
        how: where it comes from, in words (which measurement, which factors).
    """

    per_second: float
    basis: Basis
    how: str

    def describe(self, unit: str) -> str:
        return f"{figure(self.per_second)} {unit} {self.basis} ({self.how})"


def figure(value: float) -> str:
    """A rate for people: thousands separated, three significant digits below 100."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


class Throughput(Protocol):
    """Where an estimate's rates come from: a rate file or the assumed device."""

    def training(self, arch: str, encoder: str, batch_size: int) -> Rate:
        """Training triples/s of ``arch`` on ``encoder`` at ``batch_size``."""

    def scoring(self, arch: str, encoder: str, batch_size: int) -> Rate:
        """Scoring (query, passage) pairs/s of ``arch`` on ``encoder`` at ``batch_size``."""

    @property
    def device(self) -> str:
        """The device, in words."""

    def basis_lines(self) -> list[str]:
        """What the rates rest on, for the dry run's header."""

    def caveats(self, profile: Profile) -> list[str]:
        """Where ``profile`` runs differently from what the rates were measured on."""


@dataclass(frozen=True)
class MeasuredThroughput:
    """Rates of a rate file, and rates derived from them where it has none (module docstring)."""

    rates: RateFile
    table: FlopsTable

    @property
    def device(self) -> str:
        return self.rates.device

    def training(self, arch: str, encoder: str, batch_size: int) -> Rate:
        return self._scaled(self._from_file("training", arch, batch_size), encoder)

    def scoring(self, arch: str, encoder: str, batch_size: int) -> Rate:
        if self.rates.scoring:
            return self._scaled(self._from_file("scoring", arch, batch_size), encoder)
        per_triple = self._from_file("training", arch, batch_size)
        return self._scaled(Rate(per_triple.per_second / PAIR_SHARE, "derived",
                                 f"{1 / PAIR_SHARE:.0f} x training triples/s: {_source(per_triple)}"), encoder)

    def _from_file(self, kind: Literal["training", "scoring"], arch: str, batch_size: int) -> Rate:
        """``arch``'s rate of the file at the batch nearest ``batch_size``, or that of the
        measured architecture of the nearest FLOPs per triple times the FLOPs ratio."""
        measured = self.rates.measurements(kind)
        source = arch if arch in measured else min(
            measured, key=lambda a: (abs(self.table.of(a) - self.table.of(arch)), a))
        found = self.rates.nearest(kind, source, batch_size)
        assert found is not None  # parse() keeps only non-empty lists
        if source == arch and found.batch_size == batch_size:
            return Rate(found.per_second, "measured", f"batch {batch_size}")
        at = f"measured {figure(found.per_second)} at batch {found.batch_size}"
        if source == arch:
            return Rate(found.per_second, "derived", f"{at}, used for batch {batch_size}")
        ratio = self.table.of(source) / self.table.of(arch)
        batch = "" if found.batch_size == batch_size else f", used for batch {batch_size}"
        return Rate(found.per_second * ratio, "derived", f"{source}'s {at}{batch} x FLOPs ratio {ratio:.3f}")

    def _scaled(self, rate: Rate, encoder: str) -> Rate:
        """``rate`` for ``encoder`` instead of the measured shape (layers x width^2)."""
        known = known_encoder_factor(encoder)
        if known is None:
            return rate  # an unknown encoder: taken as the measured shape, as the FLOPs path does
        factor = known / self.rates.encoder.relative_cost
        if abs(factor - 1) < 1e-6:
            return rate
        return Rate(rate.per_second / factor, "derived", f"{_source(rate)}, / {factor:.3g} for {encoder}")

    def basis_lines(self) -> list[str]:
        r = self.rates
        where = f"kdlib/repro/rates/{r.name}.yaml" if _shipped(r) else r.path
        when = r.date or ("not recorded" + (f", transcribed {r.provenance['transcribed']}"
                                            if r.provenance.get("transcribed") else ""))
        lines = [f"GPU hours from measured rates: {r.device}, {r.precision} ({where})",
                 f"  source: {' '.join(r.source.split())}",
                 f"  commit {r.commit or 'not recorded'}; date {when}",
                 f"  measured with encoder {r.encoder.describe()}, query {r.query_len} / passage "
                 f"{r.passage_len} word pieces:"]
        for kind, unit in (("training", "triples/s"), ("scoring", "pairs/s")):
            found = r.measurements(kind)
            if not found:
                lines.append(f"    {kind}: none measured")
            for arch, measurements in found.items():
                figures = ", ".join(f"{figure(m.per_second)} at batch {m.batch_size}" for m in measurements)
                lines.append(f"    {kind} {arch}, {unit}: {figures}")
        lines += [
            "  derived where not measured (each run says which of its rates are): another architecture from the",
            "    measured one of the nearest FLOPs per triple x their FLOPs ratio (the same utilisation assumed: a",
            "    smaller model such as TK usually reaches less, so its derived hours are optimistic), with",
            f"    {self.table.describe()};",
            f"    scoring pairs/s = {1 / PAIR_SHARE:.0f} x training triples/s (a pair's forward pass is 1/6 of a "
            "training triple's FLOPs);",
            "    another encoder by layers x width^2; another batch size from the nearest measured one",
        ]
        return lines

    def caveats(self, profile: Profile) -> list[str]:
        """Where the profile runs differently from the measurement (not corrected for)."""
        data, r, out = profile.data, self.rates, []
        if (data.query_max_len, data.passage_max_len) != (r.query_len, r.passage_len):
            out.append(f"not corrected for: measured at query {r.query_len} / passage {r.passage_len} word pieces, "
                       f"the profile truncates at {data.query_max_len} / {data.passage_max_len}; batches pad to "
                       f"their longest text, so texts longer than the measured limits cost more than measured")
        if profile.train.precision not in ("auto", r.precision):
            out.append(f"not corrected for: measured in {r.precision}, the profile trains in {profile.train.precision}")
        unknown = sorted({e for e in (profile.student.encoder.name, profile.teacher.own_encoder.name)
                          if known_encoder_factor(e) is None})
        if unknown:
            out.append(f"not corrected for: encoder(s) {unknown} of unknown shape, taken as the measured one")
        return out


@dataclass(frozen=True)
class AssumedThroughput:
    """Rates from FLOPs and an assumed device: where no rate file applies."""

    table: FlopsTable
    assumed: DeviceAssumption = ASSUMED_DEVICE

    @property
    def device(self) -> str:
        return "the assumed device"

    def training(self, arch: str, encoder: str, batch_size: int) -> Rate:
        flops = self.table.of(arch) * encoder_factor(encoder)
        return Rate(self.assumed.flops / flops, "assumed",
                    f"{self.assumed.flops / 1e12:.1f} TFLOP/s / {flops / 1e9:.0f} GFLOP per triple")

    def scoring(self, arch: str, encoder: str, batch_size: int) -> Rate:
        flops = self.table.of(arch) * encoder_factor(encoder) * PAIR_SHARE
        return Rate(self.assumed.flops / flops, "assumed",
                    f"{self.assumed.flops / 1e12:.1f} TFLOP/s / {flops / 1e9:.1f} GFLOP per pair")

    def basis_lines(self) -> list[str]:
        return ["GPU hours ASSUMED, not measured (no rate file applies: the profile's `rates` or --rates): each",
                f"  is FLOPs / device rate, with {self.table.describe()}",
                f"  and an assumed device: {self.assumed.describe()}."]

    def caveats(self, profile: Profile) -> list[str]:
        return []


def _source(rate: Rate) -> str:
    """Where a rate comes from, for the description of a rate derived from it."""
    return f"measured {figure(rate.per_second)} at {rate.how}" if rate.basis == "measured" else rate.how


def _shipped(rates: RateFile) -> bool:
    return Path(rates.path).resolve().parent == RATES_DIR.resolve()


def throughput(profile: Profile, rates: str | None = None) -> Throughput:
    """The throughput of ``profile``'s estimates: the rate file ``rates`` names (a shipped
    name or a path; ``"none"``: the assumption), else the profile's ``rates``, else the
    assumed device.

    Raises:
        ConfigError: the rate file is missing or malformed.
    """
    choice = rates if rates is not None else profile.rates
    if choice is None or str(choice).lower() == "none":
        return AssumedThroughput(flops_table())
    return MeasuredThroughput(load_rates(choice), flops_table())


@dataclass(frozen=True)
class RunHours:
    """GPU hours of one training run, by part.

    Attributes:
        training: the optimiser steps.
        validation: re-ranking the validation queries every ``eval_every`` steps.
        test: re-ranking the test and evaluation datasets with the final model.
        scoring: scoring every training triple (our own teacher; 0 for a student).
        training_rate: the rate of ``training``.
        scoring_rate: the rate of ``validation``, ``test`` and ``scoring``.
    """

    training: float
    validation: float
    test: float
    scoring: float
    training_rate: Rate
    scoring_rate: Rate

    @property
    def total(self) -> float:
        return self.training + self.validation + self.test + self.scoring

    @property
    def derived(self) -> bool:
        """Whether any of its rates is derived or assumed rather than measured."""
        return self.training_rate.basis != "measured" or self.scoring_rate.basis != "measured"


@dataclass(frozen=True)
class Estimator:
    """GPU hours of the runs of one profile under a :class:`Throughput`."""

    profile: Profile
    throughput: Throughput

    def training_triples(self) -> int:
        """Triples the students and our own teacher's scoring see."""
        data = self.profile.data
        if data.train_triples == "official":
            return min(OFFICIAL_TRIPLES, data.max_train_triples or OFFICIAL_TRIPLES)
        return data.max_train_triples or 0  # sampled from the pack: small

    def rerank_pairs(self) -> int:
        """(query, passage) pairs a final model re-ranks: the test and evaluation datasets."""
        data = self.profile.data
        queries = sum(EVAL_QUERIES.get(name, data.max_queries or 50) for name in (data.test, *data.eval_datasets))
        return queries * data.rerank_depth

    def validations(self, train: TrainConfig) -> int:
        """Validations of a run: every ``eval_every`` steps (once, at the end, when 0)."""
        return train.max_steps // train.eval_every if train.eval_every else 1

    def validation_pairs(self, train: TrainConfig) -> int:
        """(query, passage) pairs all validations of a run re-rank."""
        data = self.profile.data
        return self.validations(train) * data.validation_queries * (data.validation_depth or data.rerank_depth)

    def run(self, arch: str, encoder: str, train: TrainConfig, scored_triples: int = 0) -> RunHours:
        """Hours of training ``arch`` on ``encoder`` under ``train``, validating and re-ranking the
        test sets, then scoring ``scored_triples`` training triples."""
        training = self.throughput.training(arch, encoder, train.batch_size)
        scoring = self.throughput.scoring(arch, encoder, self.profile.eval.batch_size)
        return RunHours(training=train.max_steps * train.batch_size / training.per_second / 3600,
                        validation=self.validation_pairs(train) / scoring.per_second / 3600,
                        test=self.rerank_pairs() / scoring.per_second / 3600,
                        scoring=2 * scored_triples / scoring.per_second / 3600,
                        training_rate=training, scoring_rate=scoring)

    def student(self, arch: str) -> RunHours:
        """One student of the matrix: training, validations, re-ranking the test sets."""
        return self.run(arch, self.profile.student.encoder.name, self.profile.train)

    def own_teacher(self) -> RunHours:
        """Our BERT_CAT teacher: training, validations, re-ranking, then scoring every training triple."""
        teacher = self.profile.teacher
        return self.run("bert_cat", teacher.own_encoder.name, teacher.own_train, self.training_triples())

    def untrained_hours(self, arch: str) -> float:
        """Re-ranking the test sets with ``arch``'s untrained start."""
        rate = self.throughput.scoring(arch, self.profile.student.encoder.name, self.profile.eval.batch_size)
        return self.rerank_pairs() / rate.per_second / 3600

    def dense_rate(self) -> Rate:
        """Passages/s of encoding the collection with a BERT_DOT student (a passage counted as a pair)."""
        return self.throughput.scoring("bert_dot", self.profile.student.encoder.name, self.profile.eval.batch_size)

    def dense_hours(self) -> float:
        """Encoding the collection once with one BERT_DOT student."""
        return COLLECTION_PASSAGES / self.dense_rate().per_second / 3600

    def student_hours(self, arch: str) -> float:
        """:meth:`student`'s total."""
        return self.student(arch).total

    def own_teacher_hours(self) -> float:
        """:meth:`own_teacher`'s total."""
        return self.own_teacher().total
