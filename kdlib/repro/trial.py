"""Trying a setting: one student cell trained with overrides, judged on validation queries.

The book's method page lists every setting tried before the profile was fixed. A row of that
table is one :func:`run_trial`: the cell (architecture, teacher setting, loss) trained on the
profile with ``--set`` overrides, in a scratch profile ``<profile>-trials`` so that nothing
it computes can enter the book's results.

A trial reports what a setting may be chosen on:

- the validation curve (nDCG@10 of the held-out validation queries, every ``eval_every``
  steps), beside BM25 on the same queries;
- the **fit** (:mod:`kdlib.repro.stages.fit`): nDCG@10 re-ranking the *training* queries that the
  published teachers scored, at the validation depth, beside BM25 and the teacher T2
  re-ranking the same candidates. A student far below its teacher on the very queries it was
  trained on is held back by its capacity or its optimisation, not by too few queries; a
  student that matches its teacher there but not on validation has memorised its training
  queries.

The test set is measured only when asked for (``with_test``), and a trial's test number is
never a reason to choose a setting.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from kdlib.core.errors import ConfigError
from kdlib.core.profiles import Profile, apply_overrides
from kdlib.repro.settings import BM25_ARCH, T2, setting
from kdlib.repro.splits import rerank_test, splits
from kdlib.repro.stages import fit

#: The measure trials are judged on (the book's headline measure).
MEASURE = fit.FIT_MEASURE
#: Suffix of the scratch profile a trial computes in (``artifacts/<profile>-trials/``).
TRIAL_SUFFIX = "-trials"


@dataclass(frozen=True)
class TrialResult:
    """What one tried setting scored.

    Attributes:
        arch, teacher, loss: the cell.
        overrides: the ``KEY=VALUE`` overrides, as given.
        validation: ``(step, nDCG@10)`` of each validation during training.
        best_validation: the best of them (the checkpoint a book cell would keep).
        validation_bm25: BM25 on the same validation queries and depth.
        fit: nDCG@10 re-ranking the training queries the published teachers scored:
            ``student`` (the best-validation checkpoint), ``bm25`` and ``T2`` (the teacher).
        fit_queries: how many training queries ``fit`` averages over.
        test: the test set's nDCG@10, only when asked for.
        train_seconds: wall time of the training run (``None`` when it was cached).
    """

    arch: str
    teacher: str
    loss: str
    overrides: tuple[str, ...]
    validation: tuple[tuple[int, float], ...]
    best_validation: float | None
    validation_bm25: float
    fit: Mapping[str, float]
    fit_queries: int
    test: float | None = None
    train_seconds: float | None = field(default=None, compare=False)

    def describe(self) -> str:
        """One paragraph: the setting, its validation curve and its fit beside BM25 and T2."""
        setting_text = " ".join(self.overrides) or "(the profile as it is)"
        curve = ", ".join(f"{step}: {score:.3f}" for step, score in self.validation) or "none"
        best = "n/a" if self.best_validation is None else f"{self.best_validation:.3f}"
        lines = [
            f"{self.arch} / {self.teacher} / {self.loss}  {setting_text}",
            f"  validation {MEASURE}: best {best} (BM25 {self.validation_bm25:.3f}); by step: {curve}",
            f"  fit on {self.fit_queries} training queries, {MEASURE}: student {self.fit['student']:.3f}, "
            f"BM25 {self.fit[BM25_ARCH]:.3f}, T2 {self.fit[T2]:.3f}",
        ]
        if self.test is not None:
            lines.append(f"  test {MEASURE}: {self.test:.3f} (reported, never chosen on)")
        if self.train_seconds is not None:
            lines.append(f"  trained in {self.train_seconds:.0f} s")
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def trial_profile(profile: Profile, overrides: Sequence[str] = ()) -> Profile:
    """``profile`` with ``overrides`` applied, renamed so that it computes in its own folder."""
    tried = apply_overrides(profile, overrides)
    return dataclasses.replace(tried, name=f"{profile.name}{TRIAL_SUFFIX}")


def run_trial(profile: Profile, arch: str, teacher: str, loss: str = "margin_mse", *,
              overrides: Sequence[str] = (), with_test: bool = False) -> TrialResult:
    """Train (once; cached like a book cell) and judge one setting.

    Args:
        profile: the profile the setting is tried on (e.g. ``embedded``).
        arch: a student architecture.
        teacher: a teacher setting (``baseline`` trains with RankNet on labels).
        loss: the distillation loss (the baseline trains with its own, RankNet).
        overrides: ``KEY=VALUE`` profile overrides (as ``kdlib book --set``).
        with_test: also re-rank the test set (reported, never to be chosen on).

    Raises:
        ConfigError: an override does not fit the profile.
        ConfigError: the profile's training queries have no T2 runs to measure the fit on.
    """
    from kdlib.repro.stages.students import TIMING, student_training
    from kdlib.train.result import TrainResult

    tried = trial_profile(profile, overrides)
    chosen = setting(tried, teacher)
    loss = chosen.baseline_loss or loss
    qids = fit.fit_queries(tried)
    if not qids:
        raise ConfigError(f"profile {profile.name!r}: no training query has runs of every T2 member "
                          f"{list(setting(tried, T2).members)}; the fit cannot be measured")
    out = student_training.run(tried, arch=arch, teacher=chosen, loss=loss)
    trained = TrainResult.read(out / "DONE.json")
    split = splits(tried)

    validation_qids = split.validation.judged_qids()
    # The validation depth is the fit's depth too (fit.fit_depth).
    bm25_validation = fit.first_stage_run(tried, split.validation, fit.fit_depth(tried))
    references = fit.reference_fit(tried)

    test = None
    if with_test:
        from kdlib.models import load

        test = fit.measure(rerank_test(tried, load(trained.model_dir)), split.test, split.test.judged_qids())

    timing = out / TIMING
    return TrialResult(
        arch=arch, teacher=chosen.name, loss=loss, overrides=tuple(overrides),
        validation=tuple((int(v["step"]), float(v["score"])) for v in trained.validations),
        best_validation=trained.best_score,
        validation_bm25=fit.measure(bm25_validation, split.validation, validation_qids),
        fit={"student": fit.student_fit(tried, arch, chosen, loss), BM25_ARCH: references[BM25_ARCH], T2: references[T2]},
        fit_queries=len(qids),
        test=test,
        train_seconds=json.loads(timing.read_text()) if timing.is_file() else None,
    )
