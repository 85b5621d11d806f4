"""The book checks the published teacher files before any chapter runs: a damaged file, or a
wrong MD5 given with ``--set``, stops it with the file named and the fix."""
from __future__ import annotations

import hashlib

import pytest
from fixtures.msmarco_mini import serve, write_teacher_file

from kdlib import cli
from kdlib.book import runner
from kdlib.core import profiles
from kdlib.core.errors import DownloadError


@pytest.fixture()
def served(msmarco_mini, tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_TEACHERS", str(tmp_path / "teachers"))
    monkeypatch.setenv("KDLIB_ARTIFACTS", str(tmp_path / "artifacts"))
    path = write_teacher_file(msmarco_mini, tmp_path / "zenodo" / "t2_scores_ids.tsv")
    md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    with serve(path.parent) as url:
        yield f"{url}/t2_scores_ids.tsv?download=1", md5


def _profile(url: str, md5: str):
    return profiles.apply_overrides(profiles.load("msmarco"), [
        "teacher.published_files={T2: {url: '%s', md5: %s}}" % (url, md5)])


def _no_notebook(*args, **kwargs):
    raise AssertionError("no notebook may run with a bad teacher file")


def test_a_wrong_md5_stops_the_book_naming_the_file_and_the_fix(served, tmp_path, monkeypatch):
    import papermill

    monkeypatch.setattr(papermill, "execute_notebook", _no_notebook)
    url, md5 = served
    wrong = "f" * 32
    with pytest.raises(DownloadError) as failure:
        runner.execute(_profile(url, wrong), out_dir=tmp_path / "out", log=lambda *_: None)
    message = str(failure.value)
    assert "t2_scores_ids.tsv" in message and f"expected {wrong}" in message and md5 in message
    assert "kdlib data fetch-teachers" in message and "teacher.published_files.T2.md5" in message
    assert not (tmp_path / "teachers" / "t2_scores_ids.tsv").exists()  # the bad download is removed


def test_a_damaged_local_file_stops_the_book(served, tmp_path, monkeypatch, capsys):
    import papermill

    url, md5 = served
    runner.fetch_teacher_files(_profile(url, md5), log=lambda *_: None)  # downloaded and checked
    local = tmp_path / "teachers" / "t2_scores_ids.tsv"
    local.write_bytes(local.read_bytes()[:-10] + b"0123456789")  # damaged on disk
    monkeypatch.setattr(papermill, "execute_notebook", _no_notebook)
    with pytest.raises(DownloadError, match=r"t2_scores_ids.tsv is damaged: its md5 is .* Delete it and run "
                                            r"`kdlib data fetch-teachers`"):
        runner.execute(_profile(url, md5), out_dir=tmp_path / "out", log=lambda *_: None)
    # The command line says the same, as an error, with a failing exit status.
    code = cli.main(["book", "--profile", "msmarco", "--no-build",
                     "--set", "teacher.published_files={T2: {url: '%s', md5: %s}}" % (url, md5)])
    assert code != 0
    assert "t2_scores_ids.tsv is damaged" in capsys.readouterr().err
