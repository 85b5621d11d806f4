"""Stage keys follow exactly what each stage declares: a changed option or measure re-keys
the stages that depend on it, and no other (key level only: nothing is trained)."""
from __future__ import annotations

import pytest

from kdlib.core import profiles
from kdlib.repro import REGISTRY, Call, Stage, key_hash, stage_calls
from kdlib.repro.settings import BASELINE, T2_IMPUTED, T2_SCORED, ablation_setting, setting


def _keys(profile) -> dict[str, str]:
    return {str(call): key_hash(profile, call) for call in stage_calls(profile)}


def _changed(base, changed) -> set[str]:
    before, after = _keys(base), _keys(changed)
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


@pytest.fixture(scope="module")
def tiny():
    return profiles.load("tiny")


def test_every_stage_of_the_book_has_a_distinct_key(tiny):
    keys = _keys(tiny)
    assert len(set(keys.values())) == len(keys)
    assert {c.stage for c in stage_calls(tiny)} == set(REGISTRY)


def test_an_arch_option_rekeys_that_arch_and_what_reads_its_students(tiny):
    pooled = profiles.override(tiny, {"student.options": {"bert_dot": {"pooling": "mean"}}})
    changed = _changed(tiny, pooled)
    expected = {name for name in _keys(tiny)
                if "arch=bert_dot" in name or name in ("score_samples()", "latency()", "paper_size_latency()", "dense()")}
    assert changed == expected
    # Every bert_dot cell: the matrix, the loss comparison, the own-teacher and ablation students.
    assert {"student(arch=bert_dot, loss=margin_mse, teacher=own)",
            "student_run(arch=bert_dot, loss=margin_mse, teacher=T2_imputed)",
            "untrained_run(arch=bert_dot)"} <= changed
    assert not any(name.startswith(("teacher_file", "own_teacher")) for name in changed)


def test_measures_rekey_only_the_evaluation_stages(tiny):
    measured = profiles.override(tiny, {"eval.measures": ["nDCG@10"]})
    assert _changed(tiny, measured) == {"dense()"}


def test_training_settings_rekey_students_not_teachers(tiny):
    longer = profiles.override(tiny, {"train.max_steps": 9})
    changed = _changed(tiny, longer)
    assert "own_teacher()" not in changed and not any(n.startswith("teacher_file") for n in changed)
    assert not any(n.startswith("untrained_run") for n in changed)
    assert all(n in changed for n in _keys(tiny) if n.startswith(("student", "dense", "latency", "score")))


def test_the_own_teachers_training_rekeys_its_file_students_and_run(tiny):
    changed = _changed(tiny, profiles.override(tiny, {"teacher.own_train.max_steps": 9}))
    assert changed == {"own_teacher()", "own_teacher_run()", "teacher_file(teacher=own)",
                       "student(arch=bert_dot, loss=margin_mse, teacher=own)",
                       "student_run(arch=bert_dot, loss=margin_mse, teacher=own)",
                       "student_fit(arch=bert_dot, loss=margin_mse, teacher=own)"}


def test_the_ablation_reads_the_profile_under_the_other_unscored_policy(tiny):
    assert tiny.teacher.unscored == "drop"
    ablation = setting(tiny, T2_IMPUTED)
    assert ablation_setting(tiny) == ablation
    assert ablation.unscored == "query_min" and ablation.members == tuple(tiny.teacher.t2)
    assert setting(tiny, BASELINE).loss(tiny) == "ranknet" and not setting(tiny, BASELINE).distils
    imputing = profiles.override(tiny, {"teacher.unscored": "query_min"})
    assert ablation_setting(imputing) == setting(imputing, T2_SCORED)
    # Imputing everywhere re-keys T2's file; the ablation becomes T2 on fully scored pairs.
    before, after = _keys(tiny), _keys(imputing)
    assert before["teacher_file(teacher=T2)"] != after["teacher_file(teacher=T2)"]
    assert "teacher_file(teacher=T2_imputed)" in before and "teacher_file(teacher=T2_scored)" in after


@pytest.mark.parametrize("override", [{"eval.latency_paper_encoder": "random:2:128"},
                                      {"eval.latency_paper_queries": 3}, {"eval.latency_paper_depth": 7}])
def test_paper_size_latency_settings_rekey_only_that_stage(tiny, override):
    assert _changed(tiny, profiles.override(tiny, override)) == {"paper_size_latency()"}


def test_paper_size_latency_does_not_depend_on_the_students(tiny):
    # Built untrained from its own encoder: training and the students' encoder do not re-key it.
    for override in ({"train.max_steps": 9}, {"student.encoder": {"name": "random:2:32"}}):
        changed = _changed(tiny, profiles.override(tiny, override))
        assert "latency()" in changed and "paper_size_latency()" not in changed
    # The timing repeats and threads are the students' latency's too.
    for override in ({"eval.latency_repeats": 2}, {"eval.latency_threads": None}):
        assert _changed(tiny, profiles.override(tiny, override)) == {"latency()", "paper_size_latency()"}


def test_a_profile_without_a_paper_size_encoder_has_no_paper_size_stage(tiny):
    assert "paper_size_latency()" in _keys(tiny)
    unsized = profiles.override(tiny, {"eval.latency_paper_encoder": None})
    assert "paper_size_latency()" not in _keys(unsized) and profiles.load("msmarco").eval.latency_paper_encoder is None


def test_an_undeclared_upstream_stage_is_refused(tiny):
    stray = Stage("stray", lambda profile, out: None, upstream=lambda profile: [Call.of("own_teacher")])
    with pytest.raises(RuntimeError, match="undeclared"):
        stray.key(tiny)
    with pytest.raises(KeyError, match="eval.measure"):
        Stage("typo", lambda profile, out: None, sections=("eval.measure",)).key(tiny)
