"""Set-up anywhere: the pack is fetched (with checksums) when missing, from a mirror served on
the loopback interface; ``make book`` does it in a fresh clone with no pack beside it; paths
work from a plain (non-editable) installation."""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kdlib.core import artifacts, paths
from kdlib.core.errors import DataMissingError
from kdlib.data import pack

ROOT = Path(__file__).resolve().parents[2]


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean; requests are recorded
        self.server.requested.append(self.path)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (an ephemeral port) serving ``folder``; stops on ``close``."""

    def __init__(self, folder: Path) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
        self.httpd.requested = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    @property
    def requested(self) -> list[str]:
        return self.httpd.requested

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def mirror():
    """The real pack, served over loopback HTTP as a mirror (``<url>/<relative path>``)."""
    server = LoopbackServer(pack.pack_dir())
    yield server
    server.close()


@pytest.fixture
def plain_install(tmp_path, monkeypatch):
    """kdlib as if installed without the repository: no clone, no pack beside it; cwd = tmp."""
    monkeypatch.setattr(paths, "source_checkout", lambda: None)
    monkeypatch.delenv("KDLIB_HOME", raising=False)
    monkeypatch.delenv("KDLIB_DATA", raising=False)
    monkeypatch.delenv("KDLIB_ARTIFACTS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_paths_of_a_plain_install(plain_install, monkeypatch):
    assert paths.home() == plain_install
    assert artifacts.root() == plain_install / "artifacts"
    assert pack.default_dest() == plain_install / "data" / "trec-dl"
    assert pack.candidate_dirs() == [plain_install / "data" / "trec-dl"]
    assert pack.CHECKSUM_FILE.is_file() and pack.CHECKSUM_FILE.parent == paths.PACKAGE_DIR / "data"
    monkeypatch.setenv("KDLIB_HOME", str(plain_install / "home"))
    assert artifacts.root() == plain_install / "home" / "artifacts"
    assert pack.default_dest() == plain_install / "home" / "data" / "trec-dl"


def test_a_clone_keeps_everything_in_the_clone(monkeypatch):
    monkeypatch.delenv("KDLIB_HOME", raising=False)
    assert paths.source_checkout() == ROOT
    assert paths.home() == ROOT
    assert pack.default_dest() == ROOT / "data" / "trec-dl"
    assert pack.candidate_dirs()[-1] == ROOT.parent / "shared" / "data" / "trec-dl"


def test_fetch_from_a_loopback_mirror(tmp_path, mirror):
    mirror.requested.clear()
    dest = pack.fetch_pack(tmp_path / "trec-dl", mirror=mirror.url, progress=False)
    assert pack.verify_pack(dest) == sorted(pack.load_checksums())
    assert sorted(p.lstrip("/") for p in mirror.requested) == sorted(pack.load_checksums())
    mirror.requested.clear()
    pack.fetch_pack(dest, mirror=mirror.url, progress=False)  # intact files are kept
    assert mirror.requested == []


def test_a_mirror_serving_damaged_or_missing_files_is_refused(tmp_path):
    served = tmp_path / "served"
    (served / "q").mkdir(parents=True)
    (served / "q" / "a.txt").write_bytes(b"tampered\n")
    checksums = {"q/a.txt": _sha(b"original\n"), "q/b.txt": _sha(b"absent\n")}
    server = LoopbackServer(served)
    try:
        with pytest.raises(DataMissingError, match="checksum mismatch"):
            pack.fetch_pack(tmp_path / "dest", mirror=server.url, checksums=checksums, progress=False)
        assert not (tmp_path / "dest" / "q" / "a.txt").exists()
        (served / "q" / "a.txt").write_bytes(b"original\n")
        with pytest.raises(DataMissingError, match=r"b\.txt: download failed.*404"):
            pack.fetch_pack(tmp_path / "dest", mirror=server.url, checksums=checksums, progress=False)
        assert (tmp_path / "dest" / "q" / "a.txt").read_bytes() == b"original\n"
    finally:
        server.close()


def test_ensure_pack_fetches_only_when_missing(plain_install, mirror, capsys):
    from kdlib.cli import main

    with pytest.raises(DataMissingError):
        pack.pack_dir()
    assert main(["data", "fetch", "--if-missing", "--mirror", mirror.url]) == 0
    assert "data pack ready in" in capsys.readouterr().out
    assert pack.pack_dir() == (plain_install / "data" / "trec-dl").resolve()
    mirror.requested.clear()
    assert main(["data", "fetch", "--if-missing", "--mirror", mirror.url]) == 0
    assert "already present" in capsys.readouterr().out and mirror.requested == []
    # A damaged file in the fetched pack is fetched again; nothing else is.
    damaged = plain_install / "data" / "trec-dl" / "qrels" / "qrels.dl19-passage.txt"
    damaged.write_text("0 0 x 0\n")
    pack._VERIFIED.clear()
    folder, fetched = pack.ensure_pack(mirror=mirror.url, progress=False)
    assert fetched and mirror.requested == ["/qrels/qrels.dl19-passage.txt"]
    assert pack.verify_pack(folder)


# -- a fresh clone and a plain installation, as separate processes ------------------------------


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    """The repository's files (tracked, or new and not ignored) copied into a folder with no
    pack inside or beside it: what `git clone` gives on another machine."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    clone = tmp_path_factory.mktemp("elsewhere") / "kdlib-clone"
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / rel)
    assert not (clone / "data" / "trec-dl").exists() and not (clone.parent / "shared").exists()
    return clone


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KDLIB_DATA", "KDLIB_HOME", "KDLIB_DATA_MIRROR",
                                                            "PYTHONPATH", "MAKEFLAGS", "MFLAGS")}
    env.update(extra)
    return env


@pytest.mark.slow
def test_make_book_in_a_fresh_clone_fetches_the_pack_from_the_mirror(fresh_clone, mirror, tmp_path):
    # The Makefile as a user runs it, with this test's environment standing in for the clone's
    # .venv (the stamp is taken as up to date: installing packages is not what is tested here).
    venv = Path(sys.prefix)
    env = _environment(KDLIB_DATA_MIRROR=mirror.url, KDLIB_ARTIFACTS=str(tmp_path / "artifacts"),
                       PYTHONPATH=str(fresh_clone))  # the clone's kdlib, not the one installed here
    mirror.requested.clear()
    done = subprocess.run(
        ["make", "-o", f"{venv}/.kdlib-installed", f"VENV={venv}", "book", "PROFILE=tiny",
         "BOOK_ARGS=--only 01_data --no-build"],
        cwd=fresh_clone, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "data pack ready in" in done.stdout
    assert len(mirror.requested) == len(pack.load_checksums())
    fetched = fresh_clone / "data" / "trec-dl"
    assert pack.verify_pack(fetched) == sorted(pack.load_checksums())
    executed = fresh_clone / "book" / "generated" / "01_data.ipynb"
    assert executed.is_file() and '"output_type": "error"' not in executed.read_text()
    assert str(fetched) in executed.read_text() or "trec-dl-2019" in executed.read_text()


@pytest.mark.slow
def test_a_plain_installation_works_from_the_working_directory(fresh_clone, mirror, tmp_path):
    # pip install (not editable) into a folder of its own; run it from an empty working directory.
    site = tmp_path / "site"
    build = tmp_path / "src"
    # Only what a source distribution needs: no notebooks, book pages or data folder beside it.
    top_level_only = {"data", "book", "notebooks"}
    shutil.copytree(fresh_clone, build, ignore=lambda d, names: top_level_only & set(names) if Path(d) == fresh_clone else set())
    import importlib.util

    # Build with this environment's setuptools when it has one (no download), else isolated.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation,
                           "--target", str(site), str(build)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (site / "kdlib" / "data" / "trec-dl.sha256").is_file()
    work = tmp_path / "work"
    work.mkdir()
    env = _environment(PYTHONPATH=str(site), KDLIB_ARTIFACTS="")
    env.pop("KDLIB_ARTIFACTS")

    def kdlib(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kdlib", *argv], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300)

    located = subprocess.run([sys.executable, "-c", "import kdlib, kdlib.core.paths as p; print(kdlib.__file__); "
                              "print(p.home()); from kdlib.core import artifacts; print(artifacts.root())"],
                             cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert located == [str(site / "kdlib" / "__init__.py"), str(work), str(work / "artifacts")]
    missing = kdlib("data", "check")
    assert missing.returncode == 2 and "kdlib data fetch" in missing.stderr and "Traceback" not in missing.stderr
    fetched = kdlib("data", "fetch", "--if-missing", "--mirror", mirror.url)
    assert fetched.returncode == 0, fetched.stderr
    assert (work / "data" / "trec-dl" / "SHA256SUMS").is_file()
    check = kdlib("data", "check")
    assert check.returncode == 0 and "checksums OK" in check.stdout, check.stderr
    book = kdlib("book", "--profile", "tiny")
    assert book.returncode == 2 and "clone the repository" in book.stderr
