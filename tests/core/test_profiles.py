"""Profiles: YAML -> frozen dataclasses, validated, with dotted overrides."""
from __future__ import annotations

import dataclasses

import pytest

from kdlib.core import profiles
from kdlib.core.errors import ConfigError


@pytest.mark.parametrize("name", profiles.PROFILE_NAMES)
def test_shipped_profiles_load(name):
    profile = profiles.load(name)
    assert profile.name == name
    assert profile.data.test not in profile.data.train  # never train on the test set
    assert profile.student.architectures


def test_profiles_are_frozen():
    profile = profiles.load("tiny")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.train.max_steps = 3  # type: ignore[misc]


def test_override_changes_only_that_key_and_the_fingerprint():
    base = profiles.load("tiny")
    changed = profiles.override(base, {"train.max_steps": 3, "student.architectures": ["tk"]})
    assert changed.train.max_steps == 3 and changed.student.architectures == ("tk",)
    assert changed.data == base.data
    assert changed.fingerprint("train") != base.fingerprint("train")
    assert changed.fingerprint("data") == base.fingerprint("data")


def test_unknown_keys_and_bad_values_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  max_stepz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*max_stepz.*expected some of"):
        profiles.load(bad)
    bad.write_text("train:\n  schedule: sawtooth\n")
    with pytest.raises(ConfigError, match=r"train.schedule: expected one of"):
        profiles.load(bad)
    bad.write_text("train:\n  max_steps: ten\n")
    with pytest.raises(ConfigError, match=r"max_steps: expected int"):
        profiles.load(bad)
    with pytest.raises(ConfigError, match="no profile"):
        profiles.load("no-such-profile")
    with pytest.raises(ConfigError, match="unknown key"):
        profiles.override(profiles.load("tiny"), {"train.nope": 1})


def test_parse_override_reads_yaml_values():
    assert profiles.parse_override("train.max_steps=12") == ("train.max_steps", 12)
    assert profiles.parse_override("student.architectures=[tk, colbert]") == (
        "student.architectures", ["tk", "colbert"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        profiles.parse_override("train.max_steps")


def test_a_float_written_without_a_dot_is_a_number_and_a_word_is_an_error(tmp_path):
    # PyYAML (YAML 1.1) reads 3e-5 as the string "3e-5": it must still reach torch as a float.
    tried = profiles.apply_overrides(profiles.load("tiny"), ["train.learning_rate=3e-5", "teacher.scale=2"])
    assert tried.train.learning_rate == 3e-5 and isinstance(tried.teacher.scale, float)
    written = tmp_path / "lr.yaml"
    written.write_text("train:\n  learning_rate: 1e-4\n")
    assert profiles.load(written).train.learning_rate == 1e-4
    with pytest.raises(ConfigError, match=r"train.learning_rate: expected a number, got 'fast'"):
        profiles.apply_overrides(profiles.load("tiny"), ["train.learning_rate=fast"])


def test_published_teacher_files_are_typed_and_checked(tmp_path):
    profile = profiles.load("msmarco")
    files = profile.teacher.published_files
    assert set(files) == {"T1", "T2"}
    assert all(isinstance(f, profiles.PublishedFile) for f in files.values())
    assert files["T2"].md5 == "4d99696386f96a7f1631076bcc53ac3c"
    assert files["T2"].filename == "bert_cat_ensemble_msmarcopassage_train_scores_ids.tsv"
    assert str(files["T1"]) == files["T1"].url  # the dry run prints it as the URL
    # Round trips: to_dict (JSON), override (rebuilds from the dict), dataclasses.asdict.
    assert profile.to_dict()["teacher"]["published_files"]["T1"]["md5"] == files["T1"].md5
    assert profiles.override(profile, {"train.max_steps": 3}).teacher.published_files == files
    assert dataclasses.asdict(profile)["teacher"]["published_files"]["T2"]["url"] == files["T2"].url
    bad = tmp_path / "bad.yaml"
    bad.write_text("teacher:\n  published_files:\n    T1: {url: 'https://x/y.tsv', md5: nothex}\n")
    with pytest.raises(ConfigError, match="32 lower-case hex"):
        profiles.load(bad)
    bad.write_text("teacher:\n  published_files:\n    T1: {url: 'https://x/y.tsv', sha: 1}\n")
    with pytest.raises(ConfigError, match="unknown key.*sha"):
        profiles.load(bad)


def test_msmarco_profile_full_scale_settings():
    profile = profiles.load("msmarco")
    assert profile.data.train_triples == "official" and profile.data.positive_min_grade == 1
    assert profile.data.eval_datasets == ("msmarco-passage/dev/small",)
    assert profile.train.precision == "auto"
    tiny = profiles.load("tiny")
    assert tiny.data.eval_datasets == ("msmarco-dev-sample",) and tiny.data.train_triples == "sampled" and tiny.train.precision == "auto"


@pytest.mark.parametrize("override, message", [
    ("data.rerank_depth=-5", "data.rerank_depth must be positive, got -5"),
    ("train.batch_size=0", "train.batch_size must be positive"),
    ("train.max_steps=0", "train.max_steps must be positive"),
    ("train.learning_rate=-1e-5", "train.learning_rate must be positive"),
    ("teacher.own_train.batch_size=0", "teacher.own_train.batch_size must be positive"),
    ("data.validation_queries=-1", "data.validation_queries must be zero or more"),
    ("eval.latency_paper_depth=0", "eval.latency_paper_depth must be positive"),
    ("eval.latency_paper_queries=1", "eval.latency_paper_queries must be at least 2"),
    ("eval.latency_threads=0", "eval.latency_threads must be positive"),
])
def test_out_of_range_settings_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        profiles.apply_overrides(profiles.load("embedded"), [override])


def test_zero_is_accepted_where_it_means_something():
    changed = profiles.apply_overrides(profiles.load("embedded"), ["train.eval_every=0", "data.candidate_pairs_per_query=0"])
    assert changed.train.eval_every == 0 and changed.data.candidate_pairs_per_query == 0


def test_paper_size_latency_settings():
    embedded, tiny, msmarco = (profiles.load(name) for name in ("embedded", "tiny", "msmarco"))
    # DistilBERT's shape beside the embedded students; the msmarco students are DistilBERTs already.
    assert (embedded.eval.latency_paper_encoder, embedded.eval.latency_paper_queries,
            embedded.eval.latency_paper_depth) == ("random:6:768", 6, 20)
    assert embedded.eval.latency_threads == 1 and msmarco.eval.latency_threads is None
    assert tiny.eval.latency_paper_encoder == "random:2:64" and msmarco.eval.latency_paper_encoder is None
    # Without a paper-size encoder nothing is paired, so one query is no error there.
    single = profiles.apply_overrides(msmarco, ["eval.latency_paper_queries=1"])
    assert single.eval.latency_paper_queries == 1
    with pytest.raises(ConfigError, match="eval.latency_paper_queries must be positive"):
        profiles.apply_overrides(msmarco, ["eval.latency_paper_queries=0"])
