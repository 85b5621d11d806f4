"""Rate files: throughput measured on one device, for the dry run's GPU hours.

Why a file: GPU hours quoted from an assumed FLOP rate and utilisation are a guess; a rate
measured by ``benchmarks/bench_train.py`` on the device a run will use is not. The benchmark
writes the file (``--write-rates``), it is committed here as ``<device>.yaml`` with the
provenance of the run, and :mod:`kdlib.repro.estimate` turns it into hours
(``kdlib book --dry-run``). A profile names its file (``rates: h200``); ``kdlib book --rates``
picks another.

The format (one YAML document; unknown keys are errors, so that a typo is not silently
ignored)::

    format: 1
    provenance:
      device: NVIDIA H200        # what the figures were measured on
      date: '2026-12-04'         # of the measurement; null when not recorded
      source: ...                # the run: a log, an issue, a CI job
      commit: 684c47c            # the kdlib commit benchmarked; null when not recorded
      ...                        # anything else (command, torch, matmul peak, notes) is kept
    precision: bf16              # of the training step (and of scoring)
    encoder: {spec: 'random:6:768', layers: 6, width: 768}
    lengths: {query: 30, passage: 128}   # truncation in word pieces
    training:                    # Margin-MSE training steps: triples per second
      bert_dot:
        - {batch_size: 32, triples_per_s: 804, mfu: 0.085}   # figures beyond the rate are kept
    scoring:                     # forward-only scoring (re-ranking): (query, passage) pairs per second
      bert_cat:
        - {batch_size: 256, pairs_per_s: 15000}

A file holds only measured figures. What was not measured (another architecture, encoder
or batch size, scoring from training) is derived when estimating, and the dry run says so.
"""
from __future__ import annotations

import datetime
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from kdlib.core.errors import ConfigError

#: Where the shipped rate files live (``<name>.yaml``).
RATES_DIR = Path(__file__).parent
#: The version of the format this module reads and writes.
FORMAT = 1
PRECISIONS = ("bf16", "fp16", "fp32")
#: What each kind of measurement counts, and its key.
UNITS: Mapping[str, str] = {"training": "triples_per_s", "scoring": "pairs_per_s"}
#: DistilBERT's shape (6 layers, 768 wide): the unit of :attr:`EncoderShape.relative_cost`.
DISTILBERT_LAYERS, DISTILBERT_WIDTH = 6, 768

Kind = Literal["training", "scoring"]
_TOP_KEYS = ("format", "provenance", "precision", "encoder", "lengths", "training", "scoring")
_REQUIRED_PROVENANCE = ("device", "date", "source", "commit")


@dataclass(frozen=True)
class Measurement:
    """One measured rate.

    Attributes:
        batch_size: triples (training) or pairs (scoring) per batch.
        per_second: triples/s (training) or pairs/s (scoring).
        figures: the other figures recorded with it (MFU, a peer's rate), for the record.
    """

    batch_size: int
    per_second: float
    figures: Mapping[str, Any]


@dataclass(frozen=True)
class EncoderShape:
    """The encoder the rates were measured with.

    Attributes:
        layers: transformer layers.
        width: hidden size.
        spec: how the benchmark named it (``random:6:768``), where known.
    """

    layers: int
    width: int
    spec: str | None = None

    @property
    def relative_cost(self) -> float:
        """Training cost relative to DistilBERT's shape: layers x width^2 (the bulk of the FLOPs)."""
        return self.layers * self.width**2 / (DISTILBERT_LAYERS * DISTILBERT_WIDTH**2)

    def describe(self) -> str:
        shape = f"{self.layers} layers x {self.width} wide"
        return f"{self.spec} ({shape})" if self.spec else shape


@dataclass(frozen=True)
class RateFile:
    """A loaded rate file (see the module docstring for the format).

    Attributes:
        path: where it was read from (or a description of the document).
        device: what the figures were measured on.
        date: of the measurement (``None``: not recorded).
        source: the run the figures come from.
        commit: the kdlib commit benchmarked (``None``: not recorded).
        precision: ``bf16``, ``fp16`` or ``fp32``.
        encoder: the encoder's shape.
        query_len: query truncation in word pieces.
        passage_len: passage truncation in word pieces.
        training: architecture -> training measurements (triples/s), by batch size.
        scoring: architecture -> scoring measurements (pairs/s), by batch size.
        provenance: the whole ``provenance`` section as written.
    """

    path: str
    device: str
    date: str | None
    source: str
    commit: str | None
    precision: str
    encoder: EncoderShape
    query_len: int
    passage_len: int
    training: Mapping[str, tuple[Measurement, ...]]
    scoring: Mapping[str, tuple[Measurement, ...]]
    provenance: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The file's name without ``.yaml`` (``h200``)."""
        return Path(self.path).stem

    def measurements(self, kind: Kind) -> Mapping[str, tuple[Measurement, ...]]:
        """``training`` or ``scoring`` measurements."""
        return self.training if kind == "training" else self.scoring

    def nearest(self, kind: Kind, arch: str, batch_size: int) -> Measurement | None:
        """``arch``'s ``kind`` measurement at the batch size nearest ``batch_size`` (by ratio,
        since throughput grows roughly with the log of the batch; a tie goes to the larger
        batch); ``None`` when ``arch`` has none."""
        found = self.measurements(kind).get(arch, ())
        if not found:
            return None
        return min(found, key=lambda m: (abs(math.log(m.batch_size / batch_size)), -m.batch_size))


def shipped() -> tuple[str, ...]:
    """Names of the rate files shipped with kdlib (``kdlib/repro/rates/<name>.yaml``)."""
    return tuple(sorted(p.stem for p in RATES_DIR.glob("*.yaml")))


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The file of a shipped rate file's name (``h200``) or of a path.

    Raises:
        ConfigError: neither a shipped name nor an existing file.
    """
    text = os.fspath(name_or_path)
    if (RATES_DIR / f"{text}.yaml").is_file():
        return RATES_DIR / f"{text}.yaml"
    path = Path(text)
    if path.is_file():
        return path
    raise ConfigError(f"no rate file {text!r}: expected one of {list(shipped())} (kdlib/repro/rates/) or a YAML file")


def load(name_or_path: str | os.PathLike) -> RateFile:
    """Read and check a rate file (:func:`resolve` finds it).

    Raises:
        ConfigError: the file is missing, not YAML, or does not fit the format; the message
            names the file and the key.
    """
    path = resolve(name_or_path)
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    return parse(document, str(path))


def parse(document: Any, where: str) -> RateFile:
    """Check a rate document (as :func:`yaml.safe_load` reads it) and build its :class:`RateFile`.

    Args:
        document: the parsed YAML.
        where: the file (or a description) that error messages name.

    Raises:
        ConfigError: ``{where}: {key}: what was expected, what was found``.
    """
    _mapping(document, where, "the document")
    unknown = sorted(set(document) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                          f"expected some of {', '.join(_TOP_KEYS)}")
    if document.get("format") != FORMAT:
        raise ConfigError(f"{where}: format: expected {FORMAT}, got {document.get('format')!r}")
    provenance = _mapping(_required(document, "provenance", where), where, "provenance")
    for key in _REQUIRED_PROVENANCE:
        _required(provenance, key, where, f"provenance.{key}")
    device = _text(provenance["device"], where, "provenance.device")
    source = _text(provenance["source"], where, "provenance.source")
    date = provenance["date"]
    if isinstance(date, (datetime.date, datetime.datetime)):
        date = date.isoformat()  # YAML reads an unquoted 2026-12-04 as a date
    date = None if date is None else _text(date, where, "provenance.date")
    commit = provenance["commit"]
    commit = None if commit is None else _text(str(commit), where, "provenance.commit")
    precision = _required(document, "precision", where)
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}: precision: expected one of {list(PRECISIONS)}, got {precision!r}")
    encoder = _mapping(_required(document, "encoder", where), where, "encoder")
    _only(encoder, ("layers", "width", "spec"), where, "encoder")
    spec = encoder.get("spec")
    shape = EncoderShape(_positive_int(_required(encoder, "layers", where, "encoder.layers"), where, "encoder.layers"),
                         _positive_int(_required(encoder, "width", where, "encoder.width"), where, "encoder.width"),
                         None if spec is None else _text(spec, where, "encoder.spec"))
    lengths = _mapping(_required(document, "lengths", where), where, "lengths")
    _only(lengths, ("query", "passage"), where, "lengths")
    query_len = _positive_int(_required(lengths, "query", where, "lengths.query"), where, "lengths.query")
    passage_len = _positive_int(_required(lengths, "passage", where, "lengths.passage"), where, "lengths.passage")
    training = _measurements(_required(document, "training", where), "training", where)
    if not training:
        raise ConfigError(f"{where}: training: expected at least one architecture's measurements "
                          f"(every other rate is derived from one)")
    scoring = _measurements(document.get("scoring") or {}, "scoring", where)
    return RateFile(where, device, date, source, commit, precision, shape, query_len, passage_len,
                    training, scoring, dict(provenance))


def dump(document: Mapping[str, Any], header: str = "") -> str:
    """``document`` as the YAML text of a rate file (checked by :func:`parse` first), with
    ``header`` as leading ``#`` comment lines."""
    parse(document, "the rate document to write")
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + yaml.safe_dump(_plain(document), sort_keys=False, width=100, allow_unicode=True)


def write(document: Mapping[str, Any], path: str | os.PathLike, header: str = "") -> Path:
    """Check ``document`` and write it to ``path`` atomically (readers never see half a file)."""
    from kdlib.core.artifacts import write_atomic

    return write_atomic(path, dump(document, header))


def _plain(value: Any) -> Any:
    """Mappings and tuples as plain dicts and lists, for ``yaml.safe_dump``."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)  # e.g. torch's TorchVersion, a str subclass yaml cannot represent
    return value


def _measurements(section: Any, kind: str, where: str) -> dict[str, tuple[Measurement, ...]]:
    from kdlib.models import ARCHITECTURES

    unit = UNITS[kind]
    _mapping(section, where, kind)
    out: dict[str, tuple[Measurement, ...]] = {}
    for arch, entries in section.items():
        key = f"{kind}.{arch}"
        if arch not in ARCHITECTURES:
            raise ConfigError(f"{where}: {key}: unknown architecture; expected one of {list(ARCHITECTURES)}")
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: {key}: expected a non-empty list of {{batch_size: ..., {unit}: ...}}, "
                              f"got {entries!r}")
        found: dict[int, Measurement] = {}
        for i, entry in enumerate(entries):
            at = f"{key}[{i}]"
            _mapping(entry, where, at)
            batch = _positive_int(_required(entry, "batch_size", where, f"{at}.batch_size"), where, f"{at}.batch_size")
            rate = _positive_number(_required(entry, unit, where, f"{at}.{unit}"), where, f"{at}.{unit}")
            if batch in found:
                raise ConfigError(f"{where}: {at}.batch_size: batch size {batch} appears twice for {arch}")
            found[batch] = Measurement(batch, rate, {k: v for k, v in entry.items() if k not in ("batch_size", unit)})
        out[arch] = tuple(found[b] for b in sorted(found))
    return out


def _mapping(value: Any, where: str, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key}: expected a mapping, got {value!r}")
    return value


def _required(section: Mapping[str, Any], key: str, where: str, dotted: str | None = None) -> Any:
    if key not in section:
        raise ConfigError(f"{where}: {dotted or key}: missing (required)")
    return section[key]


def _only(section: Mapping[str, Any], keys: tuple[str, ...], where: str, at: str) -> None:
    unknown = sorted(set(section) - set(keys))
    if unknown:
        raise ConfigError(f"{where}: {at}: unknown key(s) {', '.join(map(str, unknown))}; "
                          f"expected some of {', '.join(keys)}")


def _text(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key}: expected a non-empty string, got {value!r}")
    return value


def _positive_int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: {key}: expected a positive integer, got {value!r}")
    return value


def _positive_number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: {key}: expected a positive number, got {value!r}")
    return float(value)
