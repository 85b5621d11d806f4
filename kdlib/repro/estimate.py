"""GPU-hour estimates of a profile's stages, for the dry run (``kdlib book --dry-run``).

No training throughput has been measured on a GPU at full size yet, so every estimate is
``FLOPs / (assumed device FLOP rate)``: the FLOPs of one training triple per architecture at
DistilBERT size were counted on the CPU (``benchmarks/measure_flops.py`` ->
``kdlib/repro/flops_per_triple.yaml``, with its provenance), and the device is an assumption
(:data:`ASSUMED_DEVICE`) that the dry run prints. A forward pass over one (query, passage)
pair costs a sixth of a training triple (two pairs, backward twice the forward).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

import yaml

from kdlib.core.profiles import Profile


@dataclass(frozen=True)
class DeviceAssumption:
    """The device an estimate assumes.

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
ENCODER_FACTORS = {"distilbert-base-uncased": 1.0, "bert-base-uncased": 2.0, "bert-large-uncased": 7.1}
#: Queries of the full-scale evaluation datasets (ir_datasets' counts).
EVAL_QUERIES = {"msmarco-passage/dev/small": 6980, "msmarco-passage/trec-dl-2019/judged": 43}
#: Lines of MS MARCO's official small training triples (and of each published teacher file).
OFFICIAL_TRIPLES = 39_780_811
#: Passages of the MS MARCO collection (dense retrieval encodes them all).
COLLECTION_PASSAGES = 8_841_823


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


def flops_table() -> FlopsTable:
    """The stored FLOPs table (``kdlib/repro/flops_per_triple.yaml``)."""
    document = yaml.safe_load(resources.files("kdlib.repro").joinpath("flops_per_triple.yaml").read_text())
    return FlopsTable(document["flops_per_triple"], document["provenance"])


def encoder_factor(name: str) -> float:
    """Training cost of encoder ``name`` relative to DistilBERT (1.0 for an unknown one)."""
    return ENCODER_FACTORS.get(name, 1.0)


@dataclass(frozen=True)
class Estimator:
    """GPU hours of the stages of one profile under a FLOPs table and a device assumption."""

    profile: Profile
    table: FlopsTable
    device: DeviceAssumption = ASSUMED_DEVICE

    def _hours(self, flops: float) -> float:
        return flops / self.device.flops / 3600

    def _triple(self, arch: str, encoder: str) -> float:
        return float(self.table.flops_per_triple[arch]) * encoder_factor(encoder)

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

    def own_teacher_hours(self) -> float:
        """Training our BERT_CAT teacher, then scoring every training triple with it."""
        teacher = self.profile.teacher
        per_triple = self._triple("bert_cat", teacher.own_encoder.name)
        train = teacher.own_train.max_steps * teacher.own_train.batch_size * per_triple
        return self._hours(train + self.training_triples() * per_triple / 3)

    def student_hours(self, arch: str) -> float:
        """Training one student (with its validations) and re-ranking the evaluation datasets."""
        profile, data = self.profile, self.profile.data
        per_triple = self._triple(arch, profile.student.encoder.name)
        train = profile.train.max_steps * profile.train.batch_size * per_triple
        validations = profile.train.max_steps // profile.train.eval_every if profile.train.eval_every else 1
        depth = data.validation_depth or data.rerank_depth
        validation = validations * data.validation_queries * depth * per_triple / 6
        return self._hours(train + validation + self.rerank_pairs() * per_triple / 6)

    def dense_hours(self) -> float:
        """Encoding the collection once per BERT_DOT student of the dense chapter."""
        per_passage = self._triple("bert_dot", self.profile.student.encoder.name) / 6
        return self._hours(COLLECTION_PASSAGES * per_passage)
