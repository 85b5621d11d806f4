"""The data pack: checksum list, URL table, verification, fetching (copy and fake download)."""
from __future__ import annotations

import hashlib
import io
import urllib.request
from pathlib import Path

import pytest

from kdlib.core.errors import DataMissingError, FormatError
from kdlib.data import pack


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fake_pack(root: Path, files: dict[str, bytes]) -> dict[str, str]:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: _sha(data) for rel, data in files.items()}


def test_checksum_list_matches_url_table():
    checksums = pack.load_checksums()
    assert len(checksums) == 473  # 19 TREC DL files, 2 MS MARCO dev-subset files, the dev sample's Readme and 450 files
    assert set(checksums) == set(pack.SOURCES)
    assert len(pack.dev_sample_files(checksums)) == 450
    assert pack.SOURCES["rank_llm/BM25/retrieve_results_dl19.json"].url == (
        "https://raw.githubusercontent.com/castorini/rank_llm/381a6f0e71b58baf73bd2165f611e016b9bece02/"
        "retrieve_results/BM25/retrieve_results_dl19.json"
    )
    assert pack.SOURCES["rank_llm/BM25/retrieve_results_dl21.json"].commit.startswith("a42639233a3d")
    assert pack.SOURCES["rank_llm/SPLADE_P_P_ENSEMBLE_DISTIL/retrieve_results_dl22.json"].commit.startswith("b4e7d5ae825d")
    assert pack.SOURCES["rank_llm/REP_LLAMA/trec_results_dl20.txt"].commit.startswith("97f5fc162a4c")
    assert pack.SOURCES["qrels/qrels.dl21-passage.txt"].url == (
        "https://raw.githubusercontent.com/castorini/anserini-tools/5b819c1a45c8a0a3ec9426f476694f44a29dfaf3/"
        "qrels/qrels.dl21-passage.txt"
    )
    assert pack.SOURCES["rank_llm/SPLADE_P_P_ENSEMBLE_DISTIL/retrieve_results_dl21.json"].url == (
        "https://raw.githubusercontent.com/castorini/rank_llm/8ad23b982320c54ecb6e0a19191b6eca19c804a6/"
        "retrieve_results/SPLADE_P_P_ENSEMBLE_DISTIL/retrieve_results_dl21.json"
    )
    # The pack keeps the dev-subset topics beside the qrels; anserini-tools has them in topics/.
    assert pack.SOURCES["qrels/topics.msmarco-passage.dev-subset.txt"].remote_path == (
        "topics/topics.msmarco-passage.dev-subset.txt"
    )
    assert pack.SOURCES["qrels/qrels.msmarco-passage.dev-subset.txt"].remote_path == (
        "qrels/qrels.msmarco-passage.dev-subset.txt"
    )
    thesis = ("https://raw.githubusercontent.com/Tomjg14/Master_Thesis_MSMARCO_Passage_Reranking_BERT/"
              "2ecada2a752989c45d2e692834785e777675b350/")
    assert pack.SOURCES["msmarco-dev-sample/Readme.md"].url == thesis + "data/firebase/Readme.md"
    assert pack.SOURCES["msmarco-dev-sample/sampled_files/9083.json"].url == thesis + "data/firebase/sampled_files/9083.json"


def test_repository_checksums_equal_the_packs_own():
    folder = pack.pack_dir()
    assert pack.load_checksums(folder / "SHA256SUMS") == pack.load_checksums()


def test_malformed_checksum_line(tmp_path):
    listing = tmp_path / "sums.sha256"
    listing.write_text(f"{'a' * 64}  ./ok.txt\nnot-a-digest  ./bad.txt\n")
    with pytest.raises(FormatError) as info:
        pack.load_checksums(listing)
    assert "sums.sha256:2" in str(info.value) and "sha256" in str(info.value)


def test_verify_real_pack_and_cache():
    folder = pack.pack_dir()
    files = pack.verify_pack(folder)
    assert len(files) == 473 and "qrels/qrels.dl19-passage.txt" in files
    assert pack._VERIFIED[folder] == files


def test_verify_detects_damage_and_missing_files(tmp_path):
    checksums = _fake_pack(tmp_path, {"a/x.txt": b"hello\n", "y.txt": b"world\n"})
    assert pack.verify_pack(tmp_path, checksums=checksums) == ["a/x.txt", "y.txt"]
    (tmp_path / "y.txt").write_bytes(b"w0rld\n")
    with pytest.raises(DataMissingError, match=r"y\.txt: checksum mismatch.*kdlib data fetch"):
        pack.verify_pack(tmp_path, checksums=checksums)
    (tmp_path / "a/x.txt").unlink()
    with pytest.raises(DataMissingError, match=r"x\.txt: file of the data pack is missing"):
        pack.verify_pack(tmp_path, checksums=checksums)


def test_pack_dir_order_and_missing(tmp_path, monkeypatch):
    # A folder with every listed file (empty ones) is found through KDLIB_DATA ...
    env_pack = tmp_path / "env"
    _fake_pack(env_pack, {rel: b"" for rel in pack.load_checksums()})
    monkeypatch.setenv("KDLIB_DATA", str(env_pack))
    assert pack.pack_dir() == env_pack.resolve()
    # ... but fails verification, naming the damaged file.
    with pytest.raises(DataMissingError, match="checksum mismatch"):
        pack.verify_pack(env_pack)
    # Nowhere to be found: the message says how to fix it.
    monkeypatch.setenv("KDLIB_DATA", str(tmp_path / "nothing"))
    monkeypatch.setattr(pack, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setenv("KDLIB_HOME", str(tmp_path / "home"))
    with pytest.raises(DataMissingError) as info:
        pack.pack_dir()
    message = str(info.value)
    assert "kdlib data fetch" in message and "--from DIR" in message and "KDLIB_DATA" in message


def test_fetch_copies_the_real_pack(tmp_path):
    dest = pack.fetch_pack(tmp_path / "trec-dl", pack.pack_dir(), progress=False)
    assert pack.verify_pack(dest) == sorted(pack.load_checksums())
    assert pack.load_checksums(dest / "SHA256SUMS") == pack.load_checksums()
    assert (dest / "SOURCES.md").is_file()
    assert not list(dest.rglob(".*.tmp"))  # no temporary left behind


def test_fetch_copy_rejects_bad_source(tmp_path):
    source = tmp_path / "src"
    checksums = _fake_pack(source, {"q.txt": b"1 0 p 1\n"})
    (source / "q.txt").write_bytes(b"tampered\n")
    with pytest.raises(DataMissingError, match="checksum mismatch"):
        pack.fetch_pack(tmp_path / "dest", source, checksums=checksums, progress=False)
    assert not (tmp_path / "dest" / "q.txt").exists()
    assert not list((tmp_path / "dest").glob(".*part"))
    with pytest.raises(DataMissingError, match="not found in --from folder"):
        pack.fetch_pack(tmp_path / "dest", tmp_path / "empty", checksums=checksums, progress=False)


def test_fetch_downloads_from_the_url_table(tmp_path, monkeypatch):
    files = {"qrels/qrels.dl19-passage.txt": b"19335 Q0 1017759 0\n", "rank_llm/BM25/retrieve_results_dl22.json": b"[]",
             "msmarco-dev-sample/sampled_files/1000170.json": b"[]"}
    checksums = {rel: _sha(data) for rel, data in files.items()}
    by_url = {pack.SOURCES[rel].url: data for rel, data in files.items()}
    requested = []

    def fake_urlopen(url, timeout):
        requested.append(url)
        return io.BytesIO(by_url[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    dest = pack.fetch_pack(tmp_path / "pack", checksums=checksums, progress=False)
    assert sorted(requested) == sorted(by_url)
    assert any(url.endswith("/data/firebase/sampled_files/1000170.json") for url in requested)
    assert (dest / "msmarco-dev-sample/sampled_files/1000170.json").read_bytes() == b"[]"
    assert (dest / "qrels/qrels.dl19-passage.txt").read_bytes() == files["qrels/qrels.dl19-passage.txt"]
    # Already-present, intact files are not fetched again.
    requested.clear()
    pack.fetch_pack(dest, checksums=checksums, progress=False)
    assert requested == []

    def failing_urlopen(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", failing_urlopen)
    with pytest.raises(DataMissingError, match="download failed"):
        pack.fetch_pack(tmp_path / "other", checksums=checksums, progress=False)
