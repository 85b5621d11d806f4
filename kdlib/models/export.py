"""Export trained students to the sentence-transformers ecosystem.

- A **BERT_DOT** ranker becomes a ``SentenceTransformer``: its encoder, the same pooling
  (CLS, or mean), and dot-product similarity. ``model.similarity(model.encode(queries),
  model.encode(passages))`` gives kdlib's scores.
- A **BERT_CAT** ranker becomes a ``CrossEncoder`` (a ``BertForSequenceClassification``
  with one label and no activation): ``model.predict([(query, passage), ...])`` gives kdlib's
  scores.

Both load with plain ``SentenceTransformer(path)`` / ``CrossEncoder(path)``: no kdlib, no
custom code. Two differences to know:

- **Truncation.** kdlib truncates the query and the passage separately (``query_max_len``,
  ``passage_max_len`` word pieces). A SentenceTransformer has one length for every text:
  ``passage_max_len`` (+ 2 special tokens), so a query longer than ``query_max_len`` is cut
  later than kdlib cuts it. A CrossEncoder truncates the pair to ``query_max_len +
  passage_max_len + 3`` tokens in total, longest text first, so a short query leaves its
  unused budget to the passage. Within the limits, scores are the same.
- **BERT_CAT's head** reads the CLS vector directly (the authors' ``BERT_Cat``), while
  ``BertForSequenceClassification`` reads it through BERT's pooler, ``tanh(W h + b)``. The
  export sets the pooler to ``W = εI``, ``b = 0`` (ε = 1e-4) and divides the classifier's
  weights by ε: ``tanh(εh)/ε = h (1 - (εh)²/3 + ...)``, which in float32 equals ``h`` to
  about 1e-7 relative for hidden values up to ~30. Run such a model in float32 (or bf16);
  float16 would flush the pooler's tiny outputs towards zero.

Requires ``sentence-transformers`` (``pip install 'kdlib[export]'``).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kdlib.core.artifacts import staging_dir, swap_dir, write_atomic
from kdlib.core.errors import ConfigError

#: Architectures that export, and what they become.
FORMATS = {"bert_dot": "sentence-transformers", "bert_cat": "cross-encoder"}
#: The pooler's slope in a BERT_CAT export (see the module docstring).
POOLER_EPSILON = 1e-4


def _require_sentence_transformers():
    try:
        import sentence_transformers
    except ImportError:
        raise ConfigError(
            "exporting needs sentence-transformers: pip install 'kdlib[export]' (or sentence-transformers)"
        ) from None
    return sentence_transformers


def _st_modules():
    """(Transformer, Pooling) of the installed sentence-transformers (v3 to v6 name them apart)."""
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer
    return Transformer, Pooling


def _load_ranker(model: Any):
    # A training run's directory is resolved to its model by the caller
    # (kdlib.train.result.find_model_dir, as `kdlib export` does): models sit below training.
    from kdlib.models.loading import load

    if isinstance(model, (str, os.PathLike)):
        return load(model)
    return model


def export_sentence_transformer(model: Any, out: str | os.PathLike) -> Path:
    """Save a BERT_DOT ranker (or a directory holding one) as a ``SentenceTransformer``.

    Args:
        model: a :class:`kdlib.models.BertDot`, or a saved one (a model directory).
        out: the folder to write (replaced if it exists).

    Returns:
        ``out``; ``SentenceTransformer(out)`` loads it.

    Raises:
        ConfigError: not a BERT_DOT ranker, or sentence-transformers missing.
    """
    _require_sentence_transformers()
    from sentence_transformers import SentenceTransformer

    from kdlib.models.encoders import quiet_transformers

    ranker = _load_ranker(model)
    if ranker.arch != "bert_dot":
        raise ConfigError(f"a {ranker.arch} ranker does not export as a SentenceTransformer (bert_dot does)")
    Transformer, Pooling = _st_modules()
    with tempfile.TemporaryDirectory(prefix="kdlib-export-") as staging:
        ranker.encoder.save_pretrained(staging)
        ranker.tokenizer.save_pretrained(staging)
        with quiet_transformers():
            encoder = Transformer(staging, max_seq_length=ranker.config.passage_max_len + 2)
        pooling = Pooling(ranker.hidden_size, pooling_mode=ranker.options.pooling)
        st_model = SentenceTransformer(modules=[encoder, pooling], similarity_fn_name="dot", device="cpu")
        with quiet_transformers():
            _save(st_model, out)
    _note(out, ranker, "sentence-transformers")
    return Path(out)


def export_cross_encoder(model: Any, out: str | os.PathLike) -> Path:
    """Save a BERT_CAT ranker (or a directory holding one) as a ``CrossEncoder``.

    The encoder must be a BERT (``model_type`` ``bert``: MiniLM, SPLADE-tiny's BERT, ...),
    whose sequence-classification head has the pooler the export relies on.

    Args:
        model: a :class:`kdlib.models.BertCat`, or a saved one (a model directory).
        out: the folder to write (replaced if it exists).

    Returns:
        ``out``; ``CrossEncoder(out)`` loads it, and ``predict`` returns kdlib's raw scores.

    Raises:
        ConfigError: not a BERT_CAT ranker on a BERT encoder, or sentence-transformers missing.
    """
    _require_sentence_transformers()
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import BertForSequenceClassification

    from kdlib.models.encoders import quiet_transformers

    ranker = _load_ranker(model)
    if ranker.arch != "bert_cat":
        raise ConfigError(f"a {ranker.arch} ranker does not export as a CrossEncoder (bert_cat does)")
    encoder_config = ranker.encoder.config
    if encoder_config.model_type != "bert":
        raise ConfigError(
            f"a BERT_CAT on a {encoder_config.model_type!r} encoder does not export as a CrossEncoder "
            f"(BERT encoders do)"
        )
    config = encoder_config.__class__.from_dict(encoder_config.to_dict())
    config.num_labels = 1
    config.architectures = ["BertForSequenceClassification"]
    classifier = BertForSequenceClassification(config).eval()
    state = {k: v for k, v in ranker.encoder.state_dict().items() if not k.startswith("pooler.")}
    missing, unexpected = classifier.bert.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("pooler.")]:
        raise ConfigError(f"encoder weights do not fit BertForSequenceClassification: {missing[:3]} {unexpected[:3]}")
    hidden = ranker.hidden_size
    with torch.no_grad():
        classifier.bert.pooler.dense.weight.copy_(torch.eye(hidden) * POOLER_EPSILON)
        classifier.bert.pooler.dense.bias.zero_()
        classifier.classifier.weight.copy_(ranker.classification_layer.weight.detach().cpu() / POOLER_EPSILON)
        classifier.classifier.bias.copy_(ranker.classification_layer.bias.detach().cpu())
    max_length = ranker.config.query_max_len + ranker.config.passage_max_len + 3
    with tempfile.TemporaryDirectory(prefix="kdlib-export-") as staging:
        classifier.save_pretrained(staging)
        ranker.tokenizer.save_pretrained(staging)
        with quiet_transformers():
            try:
                cross = CrossEncoder(staging, num_labels=1, max_length=max_length,
                                     activation_fn=torch.nn.Identity(), device="cpu")
            except TypeError:  # sentence-transformers 3.x names it default_activation_function
                cross = CrossEncoder(staging, num_labels=1, max_length=max_length,
                                     default_activation_function=torch.nn.Identity(), device="cpu")
            _save(cross, out)
    _note(out, ranker, "cross-encoder")
    return Path(out)


def export(model: Any, out: str | os.PathLike) -> tuple[Path, str]:
    """Export by architecture: BERT_DOT -> SentenceTransformer, BERT_CAT -> CrossEncoder.

    Returns:
        ``(out, format)`` with format ``sentence-transformers`` or ``cross-encoder``.

    Raises:
        ConfigError: another architecture (ColBERT, PreTT and TK have no counterpart there).
    """
    ranker = _load_ranker(model)
    if ranker.arch not in FORMATS:
        raise ConfigError(
            f"a {ranker.arch} ranker has no sentence-transformers counterpart; export bert_dot "
            f"(SentenceTransformer) or bert_cat (CrossEncoder)"
        )
    if ranker.arch == "bert_dot":
        return export_sentence_transformer(ranker, out), FORMATS["bert_dot"]
    return export_cross_encoder(ranker, out), FORMATS["bert_cat"]


def _save(st_model: Any, out: str | os.PathLike) -> None:
    """Save with sentence-transformers into a staging folder, then move it into place."""
    staging = staging_dir(out)
    try:
        st_model.save(str(staging))
        swap_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _note(out: str | os.PathLike, ranker: Any, fmt: str) -> None:
    """Record where the export came from (``kdlib_export.json``, beside the model's files)."""
    config = ranker.config
    write_atomic(Path(out) / "kdlib_export.json", json.dumps({
        "format": fmt,
        "arch": config.arch,
        "encoder": config.encoder,
        "query_max_len": config.query_max_len,
        "passage_max_len": config.passage_max_len,
        "options": dict(config.options),
    }, indent=2) + "\n")
