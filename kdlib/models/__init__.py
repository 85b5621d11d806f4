"""The five ranking architectures of the paper, behind one interface (:class:`Ranker`).

========== ========================================================= ====================
name       scoring                                                   passage cache
========== ========================================================= ====================
bert_cat   ``[CLS] q [SEP] p [SEP]`` -> CLS -> linear                 none (texts)
bert_dot   ``CLS(q) · CLS(p)``                                       one vector
colbert    ``Σ_i max_j q_i · p_j``                                    token vectors
prett      separate first layers, joint last layers, CLS -> linear   passage hidden states
tk         shallow transformer, cosine kernels, log-sum pooling      token vectors
========== ========================================================= ====================

Build one with :func:`build`, reload it with :func:`load` (a directory or a Hugging Face
hub id; it also reads the authors' published checkpoint layouts), and switch attention
kernels with :func:`set_attention`.

Example::

    ranker = build("colbert", "minilm", num_layers=3, query_augmentation=8)
    scores = ranker.score(["what is a flea"], ["Fleas are small insects."])
"""
from __future__ import annotations

# Importing the architecture modules registers them (kdlib.models.registry), in this order.
from kdlib.models.base import RANKER_CONFIG_FILE, Ranker, RankerConfig
from kdlib.models.bert_cat import BertCat
from kdlib.models.bert_dot import BertDot
from kdlib.models.colbert import ColBert
from kdlib.models.encoders import load_encoder, resolve_encoder
from kdlib.models.hub import resolve_model_dir
from kdlib.models.loading import build, load, set_attention
from kdlib.models.prett import PreTT
from kdlib.models.registry import architecture_class, architectures
from kdlib.models.tk import TK

#: The registered architectures: the paper's five.
ARCHITECTURES: tuple[str, ...] = architectures()

__all__ = [
    "ARCHITECTURES",
    "RANKER_CONFIG_FILE",
    "BertCat",
    "BertDot",
    "ColBert",
    "PreTT",
    "Ranker",
    "RankerConfig",
    "TK",
    "architecture_class",
    "build",
    "load",
    "load_encoder",
    "resolve_encoder",
    "resolve_model_dir",
    "set_attention",
]
