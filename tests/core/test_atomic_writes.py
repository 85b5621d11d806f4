"""The one atomic writer and the one directory swap of kdlib.core.artifacts."""
from __future__ import annotations

import pytest

from kdlib.core import artifacts


def test_write_atomic_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "deep" / "file.txt"
    artifacts.write_atomic(path, "old\n")
    with pytest.raises(RuntimeError):
        with artifacts.open_atomic(path) as handle:
            handle.write("half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n"
    assert [p.name for p in path.parent.iterdir()] == ["file.txt"]  # no temporary left behind
    artifacts.write_atomic(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    artifacts.write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "a.json").read_text().startswith('{\n "a"')


def test_swap_dir_replaces_a_directory_and_recovers_from_a_kill_between_renames(tmp_path):
    target = tmp_path / "model"
    for content in ("one", "two"):
        staging = artifacts.staging_dir(target)
        (staging / "weights").write_text(content)
        artifacts.swap_dir(staging, target)
        assert (target / "weights").read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    # A kill after ``target -> target.old`` and before ``staging -> target``: the old copy is live.
    target.rename(tmp_path / "model.old")
    assert artifacts.live_dir(target) == tmp_path / "model.old"
    staging = artifacts.staging_dir(target)
    (staging / "weights").write_text("three")
    artifacts.swap_dir(staging, target)
    assert (target / "weights").read_text() == "three" and not (tmp_path / "model.old").exists()


def test_swap_dir_can_keep_what_another_process_published_first(tmp_path):
    target = tmp_path / "encoder"
    first = artifacts.staging_dir(target)
    (first / "config.json").write_text("first")
    artifacts.swap_dir(first, target, keep_existing=True)
    second = artifacts.staging_dir(target)
    (second / "config.json").write_text("second")
    artifacts.swap_dir(second, target, keep_existing=True)
    assert (target / "config.json").read_text() == "first" and not second.exists()


def test_no_module_writes_files_atomically_on_its_own():
    """Every rename-into-place goes through kdlib.core.artifacts (resumable downloads and partial
    score files, which keep their partial file on purpose, excepted)."""
    from pathlib import Path

    from kdlib.core.paths import PACKAGE_DIR

    package = PACKAGE_DIR
    allowed = {"core/artifacts.py", "data/download.py", "teacher/scoring.py"}
    offenders = [p.relative_to(package).as_posix() for p in package.rglob("*.py")
                 if ("os.replace(" in p.read_text() or "mkstemp(" in p.read_text() or "mkdtemp(" in p.read_text())
                 and p.relative_to(package).as_posix() not in allowed]
    assert offenders == []
