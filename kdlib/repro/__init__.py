"""The reproduction as declared, cached stages: what the notebooks call.

- :mod:`~kdlib.repro.settings`: the typed teacher settings and the names of result rows.
- :mod:`~kdlib.repro.stage`: a stage declares its profile sections and upstream stages; its
  key, lock, atomic files and ``DONE`` mark are derived in one place.
- :mod:`~kdlib.repro.matrix`: which cells and stages a profile implies.
- :mod:`~kdlib.repro.stages.teachers`, :mod:`~kdlib.repro.stages.students`, :mod:`~kdlib.repro.stages.analyses`:
  the stages themselves; :mod:`~kdlib.repro.stages.fit`: how well a student ranks its own
  training queries; :mod:`~kdlib.repro.trial`: trying a setting (``kdlib trial``);
  :mod:`~kdlib.repro.report`: what the result chapters show;
  :mod:`~kdlib.repro.results`: ``results.csv``.

Results live under ``artifacts/<profile>/<stage>/<hash>/`` (:mod:`kdlib.core.artifacts`).
"""
from __future__ import annotations

from kdlib.repro.matrix import Cell, cells, distilling_settings, matrix_runs
from kdlib.repro.plan import stage_calls
from kdlib.repro.report import (BM25, claim_checks, claim_notes, comparison_rows, comparison_table, data_overview,
                                ensemble_beats, label_triples, latency_comparison, latency_evidence, main_results,
                                paper_size_setup, matrix, paper_table, per_query,
                                reproduce_commands, result_rows, result_table, scale, judged_query_profile, sized_profile, teacher_results,
                                teacher_premise, teacher_strength, test_run, training_queries, training_size_slopes, training_sizes)
from kdlib.repro.results import RESULT_COLUMNS, record_results, results, results_path
from kdlib.repro.settings import TeacherSetting, bm25_row, setting, settings
from kdlib.repro.splits import splits, test_set, test_sets
from kdlib.repro.stage import REGISTRY, Call, Stage, key_hash, stage
from kdlib.repro.stages.analyses import (baseline_runs, dense, dense_per_query, latency, latency_per_query,
                                         paper_size_latency, paper_size_latency_cost,
                                         paper_size_latency_per_query, paper_size_ranker, score_samples,
                                         score_statistics, test_label_pairs)
from kdlib.repro.stages.fit import fit_queries, fit_table, reference_fit, student_fit
from kdlib.repro.stages.students import StudentRun, starting_points, student, untrained, untrained_run
from kdlib.repro.stages.teachers import (own_teacher, own_teacher_run, published_teacher_run, raw_member_scores,
                                         score_ranges, teacher_coverage, teacher_file, teacher_scores)

__all__ = [
    "BM25", "bm25_row", "claim_notes", "comparison_rows", "comparison_table", "data_overview", "ensemble_beats",
    "label_triples", "latency_comparison", "latency_evidence", "main_results", "paper_size_setup", "paper_table", "reproduce_commands", "result_rows", "test_set", "test_sets",
    "result_table", "scale", "score_ranges", "judged_query_profile", "sized_profile", "teacher_premise", "teacher_strength", "training_queries",
    "training_size_slopes", "training_sizes",
    "fit_queries", "fit_table", "reference_fit", "student_fit",
    "Call", "Cell", "REGISTRY", "RESULT_COLUMNS", "Stage", "StudentRun", "TeacherSetting", "baseline_runs",
    "cells", "claim_checks", "dense", "dense_per_query", "distilling_settings", "key_hash", "latency",
    "latency_per_query", "paper_size_latency", "paper_size_latency_cost", "paper_size_latency_per_query",
    "paper_size_ranker", "matrix", "matrix_runs", "own_teacher", "own_teacher_run", "per_query",
    "published_teacher_run", "raw_member_scores", "record_results", "results", "results_path", "score_samples",
    "score_statistics", "setting", "settings", "splits", "stage", "stage_calls", "starting_points", "student",
    "teacher_coverage", "teacher_file", "teacher_results", "teacher_scores", "test_label_pairs", "test_run",
    "untrained", "untrained_run",
]
