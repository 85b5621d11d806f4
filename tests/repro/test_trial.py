"""``kdlib trial``: a tried setting computes in its own scratch profile, reports validation and
the fit on teacher-scored training queries (beside BM25 and T2), and touches no book result."""
from __future__ import annotations

import json

import pytest

from kdlib.cli import main
from kdlib.core import artifacts, profiles
from kdlib.eval.measures import evaluate
from kdlib.repro.settings import T2, setting
from kdlib.repro.splits import splits
from kdlib.repro.stages.fit import fit_depth, fit_queries, reference_fit, student_fit
from kdlib.repro.trial import TRIAL_SUFFIX, run_trial, trial_profile


@pytest.fixture()
def scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


def test_fit_queries_are_the_training_queries_every_t2_member_scored():
    assert fit_queries(profiles.load("msmarco")) == [] and reference_fit(profiles.load("msmarco")) == {}
    tiny = profiles.load("tiny")
    train = splits(tiny).train
    members = setting(tiny, T2).members
    fit = fit_queries(tiny)
    assert fit and set(fit) <= set(train.judged_qids())
    assert all(q in train.runs[m] for q in fit for m in members)
    # TREC DL 2021 trains too but has no published runs: its queries are left out.
    unscored = [q for q in train.judged_qids() if any(q not in train.runs.get(m, {}) for m in members)]
    assert unscored and not set(unscored) & set(fit)


def test_a_trial_computes_apart_from_the_book_and_reports_validation_and_fit(scratch):
    tiny = profiles.load("tiny")
    result = run_trial(tiny, "bert_dot", "T2", overrides=["train.max_steps=4", "train.eval_every=2"])

    assert (scratch / f"tiny{TRIAL_SUFFIX}").is_dir()
    assert not (scratch / "tiny").exists()  # nothing of the book's profile, results.csv included
    assert result.overrides == ("train.max_steps=4", "train.eval_every=2")
    assert [step for step, _ in result.validation] == [2, 4]
    assert result.best_validation == max(score for _, score in result.validation)
    assert result.test is None and result.fit_queries == len(fit_queries(tiny))
    assert set(result.fit) == {"student", "bm25", T2} and all(0 <= v <= 1 for v in result.fit.values())

    # BM25's fit is BM25's own ranking of those queries, computed here independently.
    data = splits(tiny).train.subset(fit_queries(tiny))
    bm25 = {q: dict(sorted(r.items(), key=lambda kv: -kv[1])[: fit_depth(tiny)])
            for q, r in data.runs["bm25"].items()}
    assert result.fit["bm25"] == pytest.approx(evaluate(bm25, data.qrels, ["nDCG@10"])["nDCG@10"])
    # The teacher re-ranks the very candidates it labelled: it is not BM25's ranking.
    assert result.fit[T2] != pytest.approx(result.fit["bm25"])

    # The book's own stage measures the same fit for the same cell.
    tried = trial_profile(tiny, ["train.max_steps=4", "train.eval_every=2"])
    assert student_fit(tried, "bert_dot", "T2", "margin_mse") == result.fit["student"]
    assert set(reference_fit(tried)) == {"bm25", "T1", T2}

    again = run_trial(tiny, "bert_dot", "T2", overrides=["train.max_steps=4", "train.eval_every=2"], with_test=True)
    assert again.validation == result.validation and again.fit == result.fit  # cached, deterministic
    assert again.test is not None


def test_trial_profile_applies_overrides_under_its_own_name():
    tiny = profiles.load("tiny")
    tried = trial_profile(tiny, ["train.max_steps=3"])
    assert tried.name == "tiny" + TRIAL_SUFFIX and tried.train.max_steps == 3
    assert artifacts.stage_dir(tried.name, "student", {}).parts[-3] == tried.name


def test_cli_prints_json_and_rejects_a_bad_override(scratch, capsys):
    assert main(["trial", "tk", "baseline", "--profile", "tiny", "--set", "train.max_steps=2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["arch"] == "tk" and row["teacher"] == "baseline" and row["overrides"] == ["train.max_steps=2"]
    assert main(["trial", "tk", "T2", "--profile", "tiny", "--set", "train.max_stepz=2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "max_stepz" in err[0]
