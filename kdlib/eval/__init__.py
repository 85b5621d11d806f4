"""Measuring rankers: ir-measures evaluation, the paired significance test, re-ranking
candidate lists, faiss dense retrieval, and query latency.

- :mod:`kdlib.eval.measures`      measures through ir-measures, per query and aggregated
- :mod:`kdlib.eval.significance`  the one paired test over queries (t-test or Wilcoxon), effect and CI
- :mod:`kdlib.eval.rerank`        re-rank a first-stage run with any ranker (streamed at full scale)
- :mod:`kdlib.eval.dense`         BERT_DOT encoders into a faiss index, and retrieval from it
- :mod:`kdlib.eval.latency`       per-query re-ranking latency of every architecture
"""
