"""``kdlib export``: a BERT_DOT student loads as a SentenceTransformer and a BERT_CAT one as a
CrossEncoder, with plain sentence-transformers, and both score like kdlib (1e-4)."""
from __future__ import annotations

import json

import pytest
import torch

from kdlib import models
from kdlib.cli import main
from kdlib.core.errors import ConfigError

sentence_transformers = pytest.importorskip("sentence_transformers")

QUERIES = ["what is a flea", "how long do cats sleep", "define margin mse"]
PASSAGES = [
    "Fleas are small flightless insects that live as external parasites of mammals and birds.",
    "Cats sleep between twelve and sixteen hours a day, more when they are young or old.",
    "Margin-MSE trains a student on the difference of the teacher's scores for two passages.",
]


def _trained(arch: str, path, **options):
    """A saved ranker whose head is not at its initial values (as after training)."""
    torch.manual_seed(3)
    ranker = models.build(arch, "tiny-random", query_max_len=30, passage_max_len=64, **options)
    with torch.no_grad():
        for parameter in ranker.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    ranker.save_pretrained(path)
    return models.load(path)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_bert_dot_exports_as_a_sentence_transformer(tmp_path, capsys, pooling):
    ranker = _trained("bert_dot", tmp_path / "dot", pooling=pooling)
    # A training run directory works as well as the model directory inside it.
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "dot").rename(run / "best")
    assert main(["export", "--model", str(run), "--out", str(tmp_path / "st")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "sentence-transformers" and report["model"] == str(run / "best")

    model = sentence_transformers.SentenceTransformer(str(tmp_path / "st"), device="cpu")
    queries = model.encode(QUERIES, convert_to_tensor=True)
    passages = model.encode(PASSAGES, convert_to_tensor=True)
    theirs = model.similarity(queries, passages)
    ours_q = ranker.encode_queries(QUERIES)
    ours_p = ranker.encode_passages(PASSAGES)
    assert torch.allclose(queries.cpu(), ours_q, atol=1e-4)
    assert torch.allclose(theirs.cpu(), ours_q @ ours_p.T, atol=1e-4)
    # The aligned pairs: kdlib's score() is the diagonal.
    assert torch.allclose(theirs.diagonal().cpu(), ranker.score(QUERIES, PASSAGES), atol=1e-4)


def test_bert_cat_exports_as_a_cross_encoder(tmp_path, capsys):
    ranker = _trained("bert_cat", tmp_path / "cat")
    assert main(["export", "--model", str(tmp_path / "cat"), "--out", str(tmp_path / "ce")]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "cross-encoder"

    model = sentence_transformers.CrossEncoder(str(tmp_path / "ce"), device="cpu")
    pairs = [(q, p) for q in QUERIES for p in PASSAGES]
    theirs = torch.as_tensor(model.predict(pairs), dtype=torch.float32)
    ours = ranker.score([q for q, _ in pairs], [p for _, p in pairs])
    assert ours.std() > 1e-3  # scores that differ, so that agreement means something
    assert torch.allclose(theirs, ours, atol=1e-4), (theirs, ours)


def test_other_architectures_and_models_are_refused(tmp_path, capsys):
    _trained("colbert", tmp_path / "colbert")
    assert main(["export", "--model", str(tmp_path / "colbert"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bert_dot (SentenceTransformer) or bert_cat (CrossEncoder)" in err and "Traceback" not in err
    assert main(["export", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    from kdlib.models.export import export_cross_encoder

    with pytest.raises(ConfigError, match="does not export as a CrossEncoder"):
        export_cross_encoder(tmp_path / "colbert", tmp_path / "y")
