"""Student stages: a cell of the matrix trained, its test run, and its untrained start.

- ``student``: one (arch, teacher setting, loss) training run (``DONE.json``, the model,
  logs, ``train_seconds.json``).
- ``student_run``: it re-ranking the test candidates (``test.run``, TREC format).
- ``untrained_run``: the freshly built student (pre-trained encoder, new heads initialised
  with the students' seed) re-ranking the test candidates.

Test measures are computed from the runs on every call (they are cheap), and each is
recorded in ``results.csv`` (:mod:`kdlib.repro.results`).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from kdlib.core.profiles import Profile
from kdlib.repro import results as results_csv
from kdlib.repro.settings import UNTRAINED, TeacherSetting, setting, untrained_row
from kdlib.repro.splits import rerank_test, splits
from kdlib.repro.stage import Call, stage
from kdlib.repro.stages.teachers import TEST_RUN, TRIPLE_SECTIONS, teacher_file

TIMING = "train_seconds.json"
#: What builds a student: the data it reads, its encoder and its architecture's options.
MODEL_SECTIONS = ("data", "student.encoder", "student.options.{arch}")


@dataclass(frozen=True)
class StudentRun:
    """One trained cell of the matrix and its test results."""

    arch: str
    teacher: str
    loss: str
    out_dir: Path
    model_dir: Path
    metrics: Mapping[str, float]
    run_path: Path
    train_seconds: float | None

    @property
    def train_log(self) -> pd.DataFrame:
        """Rows of ``train_log.jsonl``: step, loss, lr, triples_per_s, mean_pos_score, mean_neg_score."""
        return pd.read_json(self.out_dir / "train_log.jsonl", lines=True)

    @property
    def validation(self) -> pd.DataFrame:
        path = self.out_dir / "validation.jsonl"
        return pd.read_json(path, lines=True) if path.is_file() and path.stat().st_size else pd.DataFrame()

    def load_model(self):
        from kdlib.models import load

        return load(self.model_dir)


def _student_upstream(profile: Profile, arch: str, teacher: TeacherSetting, loss: str) -> list[Call]:
    return [Call.of("teacher_file", teacher=teacher)] if teacher.distils else []


@stage("student", sections=(*MODEL_SECTIONS, *TRIPLE_SECTIONS, "train"), depends_on=("teacher_file",),
       upstream=_student_upstream)
def student_training(profile: Profile, out: Path, arch: str, teacher: TeacherSetting, loss: str) -> None:
    from kdlib.core.artifacts import write_json
    from kdlib.train import train_student

    scores = teacher_file(profile, teacher) if teacher.distils else None
    start = time.perf_counter()
    train_student(profile, arch, loss, teacher_scores=scores, out_dir=out, progress=False)
    write_json(out / TIMING, time.perf_counter() - start)


def same_student(profile: Profile, arch: str, teacher: TeacherSetting, loss: str) -> list[Call]:
    return [Call.of("student", arch=arch, teacher=teacher, loss=loss)]


@stage("student_run", sections=("data", "eval.batch_size"), depends_on=("student",), upstream=same_student)
def _rerank_student(profile: Profile, out: Path, arch: str, teacher: TeacherSetting, loss: str) -> None:
    from kdlib.data import write_run
    from kdlib.models import load
    from kdlib.train.result import TrainResult

    trained = TrainResult.read(student_training.run(profile, arch=arch, teacher=teacher, loss=loss) / "DONE.json")
    write_run(rerank_test(profile, load(trained.model_dir)), out / TEST_RUN, tag=f"{arch}-{teacher.name}-{loss}")


def student(profile: Profile, arch: str, teacher: str | TeacherSetting, loss: str) -> StudentRun:
    """Train (once) a student and evaluate it on the test set; every measure goes to results.csv.

    Args:
        arch: a student architecture.
        teacher: a teacher setting (:mod:`kdlib.repro.settings`); the baseline trains with
            its own loss (RankNet on labels).
        loss: a :mod:`kdlib.losses` name.
    """
    from kdlib.data import read_run
    from kdlib.eval.measures import evaluate
    from kdlib.train.result import TrainResult

    chosen = setting(profile, teacher)
    out = student_training.run(profile, arch=arch, teacher=chosen, loss=loss)
    run_path = _rerank_student.run(profile, arch=arch, teacher=chosen, loss=loss) / TEST_RUN
    metrics = evaluate(read_run(run_path), splits(profile).test.qrels, profile.eval.measures)
    results_csv.record_metrics(profile, (arch, chosen.name, loss), metrics)
    if profile.data.eval_datasets:
        _evaluate_eval_datasets(profile, arch, chosen.name, loss, out)
    timing = out / TIMING
    seconds = json.loads(timing.read_text()) if timing.is_file() else None
    trained = TrainResult.read(out / "DONE.json")
    return StudentRun(arch, chosen.name, loss, out, Path(trained.model_dir), metrics, run_path, seconds)


def eval_dataset_metrics(profile: Profile, out: Path, load_ranker, tag: str) -> dict[str, dict[str, float]]:
    """A model's measures on every ``data.eval_datasets`` dataset (its runs written once into
    ``out``, :func:`kdlib.eval.rerank.evaluate_datasets`); their validation queries left out."""
    from kdlib.data.sources import source_for
    from kdlib.eval.rerank import evaluate_datasets

    if not profile.data.eval_datasets:
        return {}
    return evaluate_datasets(source_for(profile.data), profile.data.eval_datasets, load_ranker, out,
                             run=profile.data.candidates, depth=profile.data.rerank_depth,
                             batch_size=profile.eval.batch_size, exclude=splits(profile).validation.queries,
                             max_queries=profile.data.max_queries, tag=tag)


def _record_eval_datasets(profile: Profile, row: tuple[str, str, str], metrics: Mapping[str, Mapping[str, float]]) -> None:
    for name, values in metrics.items():
        results_csv.record_metrics(profile, row, values, dataset=name)


def _evaluate_eval_datasets(profile: Profile, arch: str, teacher: str, loss: str, out: Path) -> None:
    """Measures of a trained student on ``data.eval_datasets``, into results.csv."""
    from kdlib.core import artifacts
    from kdlib.models import load
    from kdlib.train.result import TrainResult

    model_dir = TrainResult.read(out / "DONE.json").model_dir
    with artifacts.stage_lock(out):
        metrics = eval_dataset_metrics(profile, out, lambda: load(model_dir), tag=f"{arch}-{teacher}-{loss}")
    _record_eval_datasets(profile, (arch, teacher, loss), metrics)


@stage("untrained_run", sections=(*MODEL_SECTIONS, "train.seed", "train.dropout", "eval.batch_size"))
def _rerank_untrained(profile: Profile, out: Path, arch: str) -> None:
    from kdlib.data import write_run
    from kdlib.train.pipeline import build_student

    ranker = build_student(profile, arch)
    write_run(rerank_test(profile, ranker), out / TEST_RUN, tag=f"{arch}-untrained")
    eval_dataset_metrics(profile, out, lambda: ranker, tag=f"{arch}-untrained")


def untrained_run(profile: Profile, arch: str) -> dict[str, dict[str, float]]:
    """The untrained student's test run (see :func:`untrained`)."""
    from kdlib.data import read_run

    return read_run(_rerank_untrained.run(profile, arch=arch) / TEST_RUN)


def untrained(profile: Profile, arch: str) -> dict[str, float]:
    """A student's starting point: the freshly built model (pre-trained encoder, new heads
    initialised with the students' seed) re-ranking the test candidates, untrained.

    Recorded in results.csv as teacher ``untrained``, loss ``none``; the run is cached.
    """
    from kdlib.eval.measures import evaluate

    metrics = evaluate(untrained_run(profile, arch), splits(profile).test.qrels, profile.eval.measures)
    results_csv.record_metrics(profile, untrained_row(arch), metrics)
    _record_eval_datasets(profile, untrained_row(arch), eval_dataset_metrics(
        profile, _rerank_untrained.run(profile, arch=arch), lambda: _untrained_student(profile, arch),
        tag=f"{arch}-untrained"))
    return metrics


def _untrained_student(profile: Profile, arch: str):
    from kdlib.train.pipeline import build_student

    return build_student(profile, arch)


def run_dir(profile: Profile, row: tuple[str, str, str]) -> Path:
    """The stage directory that holds a student row's runs (trained or untrained): its test
    run and one run per ``data.eval_datasets`` dataset (:func:`kdlib.eval.rerank.run_file_name`)."""
    arch, teacher, loss = row
    if teacher == UNTRAINED:
        return _rerank_untrained.run(profile, arch=arch)
    return student_training.run(profile, arch=arch, teacher=setting(profile, teacher), loss=loss)


def starting_points(profile: Profile) -> dict[str, dict[str, float]]:
    """Every student architecture's untrained measures (see :func:`untrained`)."""
    return {arch: untrained(profile, arch) for arch in profile.student.architectures}
