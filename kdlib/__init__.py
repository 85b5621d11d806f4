"""kdlib: cross-architecture knowledge distillation for neural ranking (Margin-MSE).

Reproduces Hofstätter et al., *Improving Efficient Neural Ranking Models with
Cross-Architecture Knowledge Distillation* (arXiv:2010.02666, 2020).

Sub-packages are imported lazily so that ``kdlib --help`` starts fast:

- :mod:`kdlib.data`     embedded TREC DL pack, MS MARCO formats, ir_datasets adapter, triples
- :mod:`kdlib.models`   BERT_CAT, BERT_DOT, ColBERT, PreTT, TK
- :mod:`kdlib.losses`   Margin-MSE and the baseline / alternative losses
- :mod:`kdlib.train`    the one training loop (teachers and students)
- :mod:`kdlib.teacher`  teacher scoring, ensembles, the published teacher-file format
- :mod:`kdlib.eval.measures` ir-measures evaluation, significance, TREC runs
- :mod:`kdlib.core.profiles` frozen-dataclass configuration loaded from YAML profiles
"""
from __future__ import annotations

__version__ = "0.1.0"
