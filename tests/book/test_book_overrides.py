"""``kdlib book --set KEY=VALUE``: overrides reach every notebook kernel and every stage key."""
from __future__ import annotations

import nbformat
import pytest

from kdlib import cli
from kdlib.book import runner
from kdlib.core import profiles
from kdlib.core.errors import ConfigError
from kdlib.repro import Call, key_hash
from kdlib.repro.settings import setting


def test_book_set_hands_the_overridden_profile_to_the_runner(monkeypatch):
    seen = {}

    def fake_execute(profile, **kwargs):
        seen["profile"] = profile
        return []

    monkeypatch.setattr(runner, "execute", fake_execute)
    assert cli.main(["book", "--profile", "tiny", "--no-build", "--set", "train.max_steps=3",
                     "--set", "student.loss_comparison=[kl_div]"]) == 0
    profile = seen["profile"]
    assert profile.train.max_steps == 3 and profile.student.loss_comparison == ("kl_div",)
    assert profile.name == "tiny"  # the same artifacts/<profile>/ tree, other stage keys


def test_a_bad_override_is_refused_with_the_key(capsys):
    assert cli.main(["book", "--profile", "tiny", "--dry-run", "--set", "train.no_such_key=1"]) != 0
    assert "train.no_such_key" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        profiles.apply_overrides(profiles.load("tiny"), ["train.max_steps"])


def test_overrides_become_a_resolved_profile_file_and_stage_keys(tmp_path):
    tiny = profiles.load("tiny")
    assert runner.profile_parameter(tiny, tmp_path) == "tiny"  # unchanged: by name
    changed = profiles.apply_overrides(tiny, ["train.max_steps=3", "data.rerank_depth=7"])
    ref = runner.profile_parameter(changed, tmp_path)
    assert ref.startswith(str(tmp_path / "profiles")) and profiles.load(ref) == changed
    assert {e.parameters["profile"] for e in runner.plan(changed, tmp_path)} == {ref}
    student = Call.of("student", arch="bert_dot", teacher=setting(tiny, "T2"), loss="margin_mse")
    assert key_hash(changed, student) != key_hash(tiny, student)
    digest = runner._source_digest()
    execution = runner.plan(changed, tmp_path)[0]
    assert runner._stamp(execution, changed, digest) != runner._stamp(runner.plan(tiny, tmp_path)[0], tiny, digest)


def test_a_kernel_loads_the_overridden_profile(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("profile = 'tiny'")
    params.metadata["tags"] = ["parameters"]
    check = ("from kdlib.core import profiles\n"
             "config = profiles.load(profile)\n"
             "assert config.train.max_steps == 3 and config.data.rerank_depth == 7, config\n")
    notebook.cells = [params, nbformat.v4.new_code_cell(check)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (tmp_path / "nb").mkdir()
    nbformat.write(notebook, tmp_path / "nb" / "01_data.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOK_DIR", tmp_path / "nb")
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    changed = profiles.apply_overrides(profiles.load("tiny"), ["train.max_steps=3", "data.rerank_depth=7"])
    timings = runner.execute(changed, only=["01_data"], out_dir=tmp_path / "out", log=lambda *_: None)
    assert [cached for *_, cached in timings] == [False]
