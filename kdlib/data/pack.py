"""The embedded TREC DL pack: where it lives, whether it is intact, how to fetch it.

The pack is a folder of files kept byte for byte as published (castorini/rank_llm runs
with passage text, TREC and MS MARCO dev qrels from castorini/anserini-tools, a sample of
MS MARCO dev queries with their BM25 top 20 from a master's thesis). Its checksums ship inside
the package (``kdlib/data/trec-dl.sha256``), so a fresh download can be verified without
any other copy of the pack at hand, from a clone or from a plain installation alike.

Where the pack is looked for and fetched to follows :mod:`kdlib.core.paths`: ``data/trec-dl``
in kdlib's home (the repository clone, ``$KDLIB_HOME`` or the working directory).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple

from kdlib.core import paths
from kdlib.core.artifacts import open_atomic, write_atomic
from kdlib.core.errors import DataMissingError, FormatError
from kdlib.core.paths import REPO_ROOT

#: The folder above the ``kdlib`` package (the repository, in a clone).
#: The reference checksums, in ``sha256sum`` format (a copy of the pack's SHA256SUMS);
#: package data, so that a plain installation can verify a download too.
CHECKSUM_FILE = Path(__file__).resolve().parent / "trec-dl.sha256"
#: Environment variable naming a mirror of the pack: ``<URL>/<relative path>`` for every file.
MIRROR_ENV = "KDLIB_DATA_MIRROR"

_FIX = (
    "run `kdlib data fetch` (downloads from GitHub, or from $KDLIB_DATA_MIRROR), "
    "`kdlib data fetch --from DIR` (copies a local copy of the pack), or set KDLIB_DATA "
    "to the folder that holds it"
)
_CHUNK = 1 << 20


class PackSource(NamedTuple):
    """Where one file of the pack is published: ``github.com/<repo>`` at ``commit``, ``remote_path``."""

    repo: str
    commit: str
    remote_path: str

    @property
    def url(self) -> str:
        """The raw download URL, ``https://raw.githubusercontent.com/OWNER/REPO/COMMIT/PATH``."""
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.remote_path}"


# The commits of SOURCES.md: rank_llm moved files between releases, so each group of
# files is pinned to the commit that published it.
_RANK_LLM = "castorini/rank_llm"
_RL_1920 = "381a6f0e71b58baf73bd2165f611e016b9bece02"
_RL_21 = "a42639233a3d36f2c5996c2a125ed2319c4742dd"
_RL_22 = "b4e7d5ae825d278421b3eb084468731efe43c9a1"
# SPLADE++ DL21 is gone from later rank_llm commits.
_RL_21_SPLADE = "8ad23b982320c54ecb6e0a19191b6eca19c804a6"
_RL_REPLLAMA = "97f5fc162a4c6d664d14b1b930d56a6c759faf3a"
_TOOLS = "castorini/anserini-tools"
_TOOLS_COMMIT = "5b819c1a45c8a0a3ec9426f476694f44a29dfaf3"
_THESIS = "Tomjg14/Master_Thesis_MSMARCO_Passage_Reranking_BERT"
_THESIS_COMMIT = "2ecada2a752989c45d2e692834785e777675b350"

#: The folder of the MS MARCO dev sample in the pack: its ``Readme.md`` and ``sampled_files/``.
DEV_SAMPLE_DIR = "msmarco-dev-sample"
#: The dev sample's per-query files, ``<qid>.json``, inside the pack.
DEV_SAMPLE_FILES = f"{DEV_SAMPLE_DIR}/sampled_files"


def dev_sample_files(paths: Iterable[str]) -> list[str]:
    """The MS MARCO dev sample's per-query files among ``paths`` (relative paths), sorted.

    The checksum list is the sample's manifest: a download cannot list the thesis
    repository's folder, and a loader reads only the files the checksums vouch for.
    """
    return sorted(p for p in paths if p.startswith(f"{DEV_SAMPLE_FILES}/") and p.endswith(".json"))


def _rank_llm(system: str, filename: str, commit: str) -> tuple[str, PackSource]:
    return f"rank_llm/{system}/{filename}", PackSource(_RANK_LLM, commit, f"retrieve_results/{system}/{filename}")


def _thesis(rel: str) -> tuple[str, PackSource]:
    # msmarco-dev-sample/X is published as data/firebase/X.
    return rel, PackSource(_THESIS, _THESIS_COMMIT, f"data/firebase/{rel[len(DEV_SAMPLE_DIR) + 1:]}")


#: Local path inside the pack -> where it is published (the table of SOURCES.md, as data).
SOURCES: dict[str, PackSource] = dict(
    [
        *(_rank_llm("BM25", f"retrieve_results_dl{y}.json", _RL_1920) for y in ("19", "20")),
        _rank_llm("BM25", "retrieve_results_dl21.json", _RL_21),
        _rank_llm("BM25", "retrieve_results_dl22.json", _RL_22),
        *(_rank_llm("BM25_RM3", f"retrieve_results_dl{y}.json", _RL_1920) for y in ("19", "20")),
        _rank_llm("BM25_RM3", "retrieve_results_dl21.json", _RL_21),
        *(
            _rank_llm(system, f"retrieve_results_dl{y}.json", _RL_1920)
            for system in ("D_BERT_KD_TASB", "SPLADE_P_P_ENSEMBLE_DISTIL", "OPEN_AI_ADA2")
            for y in ("19", "20")
        ),
        _rank_llm("SPLADE_P_P_ENSEMBLE_DISTIL", "retrieve_results_dl21.json", _RL_21_SPLADE),
        _rank_llm("SPLADE_P_P_ENSEMBLE_DISTIL", "retrieve_results_dl22.json", _RL_22),
        *(_rank_llm("REP_LLAMA", f"trec_results_dl{y}.txt", _RL_REPLLAMA) for y in ("19", "20")),
        *(
            (f"qrels/qrels.dl{y}-passage.txt", PackSource(_TOOLS, _TOOLS_COMMIT, f"qrels/qrels.dl{y}-passage.txt"))
            for y in ("19", "20", "21")
        ),
        # The pack keeps both in qrels/; anserini-tools has the topics in topics/.
        *(
            (f"qrels/{kind}.msmarco-passage.dev-subset.txt",
             PackSource(_TOOLS, _TOOLS_COMMIT, f"{kind}/{kind}.msmarco-passage.dev-subset.txt"))
            for kind in ("qrels", "topics")
        ),
        _thesis(f"{DEV_SAMPLE_DIR}/Readme.md"),
    ]
)


def load_checksums(path: str | os.PathLike = CHECKSUM_FILE) -> dict[str, str]:
    """Read a ``sha256sum`` listing (``<64 hex>  ./relative/path`` a line).

    Returns:
        relative path (without a leading ``./``) -> lower-case hex digest.

    Raises:
        DataMissingError: the listing itself is missing.
        FormatError: a line is not ``<digest>  <path>``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataMissingError(f"checksum list {path} not found; {_FIX}")
    checksums: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            digest = parts[0].lower()
            if len(parts) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise FormatError(path, lineno, "'<sha256 hex digest>  <relative path>'", line.rstrip("\n"))
            rel = parts[1].strip().lstrip("*")
            checksums[rel[2:] if rel.startswith("./") else rel] = digest
    return checksums


# The dev sample's 450 files, as the package's checksum list names them (not listed by hand).
if CHECKSUM_FILE.is_file():
    SOURCES.update(_thesis(rel) for rel in dev_sample_files(load_checksums()))


def _reference_checksums(pack: Path) -> dict[str, str]:
    # The package's copy is the reference; a pack's own SHA256SUMS is only a fallback
    # for an installation that lacks it.
    return load_checksums(CHECKSUM_FILE if CHECKSUM_FILE.is_file() else pack / "SHA256SUMS")


def _has_files(folder: Path, names: Mapping[str, str] | None = None) -> bool:
    try:
        names = names if names is not None else _reference_checksums(folder)
    except DataMissingError:
        return False
    return folder.is_dir() and all((folder / rel).is_file() for rel in names)


def default_dest() -> Path:
    """Where ``kdlib data fetch`` puts the pack: ``data/trec-dl`` in kdlib's home."""
    return paths.home() / "data" / "trec-dl"


def candidate_dirs() -> list[Path]:
    """Where :func:`pack_dir` looks, in order: ``$KDLIB_DATA``, ``<home>/data/trec-dl``,
    then ``../shared/data/trec-dl`` beside the repository clone (when kdlib runs from one)."""
    candidates = []
    if os.environ.get("KDLIB_DATA"):
        candidates.append(Path(os.environ["KDLIB_DATA"]).expanduser())
    candidates.append(default_dest())
    if paths.source_checkout() is not None:
        candidates.append(REPO_ROOT.parent / "shared" / "data" / "trec-dl")
    return list(dict.fromkeys(candidates))


def pack_dir() -> Path:
    """Find the pack in :func:`candidate_dirs`.

    A folder counts when it holds every file of the checksum list (checksums are checked
    by :func:`verify_pack`, not here).

    Raises:
        DataMissingError: no candidate holds the files; the message says how to get them.
    """
    candidates = candidate_dirs()
    for folder in candidates:
        if _has_files(folder):
            return folder.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise DataMissingError(f"the TREC DL data pack was not found (looked in {tried}); {_FIX}")


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


_VERIFIED: dict[Path, list[str]] = {}


def verify_pack(path: str | os.PathLike | None = None, *, checksums: Mapping[str, str] | None = None) -> list[str]:
    """Check every file of the checksum list; the result is cached per folder and process.

    Args:
        path: the pack folder (default: :func:`pack_dir`).
        checksums: relative path -> digest (default: the package's ``trec-dl.sha256``).

    Returns:
        the verified relative paths, sorted.

    Raises:
        DataMissingError: a file is missing or its digest differs; the message names it.
    """
    folder = Path(path).resolve() if path is not None else pack_dir()
    cached = _VERIFIED.get(folder) if checksums is None else None
    if cached is not None:
        return list(cached)
    expected = dict(checksums) if checksums is not None else _reference_checksums(folder)
    for rel, digest in sorted(expected.items()):
        file = folder / rel
        if not file.is_file():
            raise DataMissingError(f"{file}: file of the data pack is missing; {_FIX}")
        actual = sha256_file(file)
        if actual != digest:
            raise DataMissingError(
                f"{file}: checksum mismatch (expected sha256 {digest}, got {actual}); "
                f"the file is damaged or not the published version; {_FIX}"
            )
    verified = sorted(expected)
    if checksums is None:
        _VERIFIED[folder] = verified
    return list(verified)


def _copy_verified(read: Callable[[], object], target: Path, digest: str, origin: str) -> None:
    """Stream ``read()``'s file object into ``target`` atomically, checking the digest on the way."""
    hasher = hashlib.sha256()
    with open_atomic(target, "wb") as out, read() as source:  # type: ignore[attr-defined]
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            hasher.update(chunk)
            out.write(chunk)
        if hasher.hexdigest() != digest:
            raise DataMissingError(
                f"{origin}: checksum mismatch for {target.name} (expected sha256 {digest}, "
                f"got {hasher.hexdigest()}); not written"
            )


def mirror_url(mirror: str, rel: str) -> str:
    """The URL of pack file ``rel`` on a mirror: ``<mirror>/<rel>`` (path segments quoted)."""
    from urllib.parse import quote

    return f"{mirror.rstrip('/')}/{quote(rel)}"


def fetch_pack(
    dest: str | os.PathLike | None = None,
    from_dir: str | os.PathLike | None = None,
    *,
    mirror: str | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Copy the pack from a local folder, or download it (from GitHub or a mirror), verifying every file.

    Files already present in ``dest`` with the right digest are kept. Each file is written
    to a temporary name and moved into place only once its digest matches, so an
    interrupted fetch never leaves a damaged file behind.

    Args:
        dest: the folder to fill (created if needed; default :func:`default_dest`).
        from_dir: a local copy of the pack; ``None`` downloads.
        mirror: a base URL serving the pack's files as ``<mirror>/<relative path>``
            (any HTTP server over a copy of the pack); ``None``: the published
            sources of :data:`SOURCES` on GitHub.
        checksums: relative path -> digest (default: the package's ``trec-dl.sha256``).
        timeout: seconds per HTTP request.
        progress: show a tqdm bar.

    Returns:
        ``dest`` as a resolved path.

    Raises:
        DataMissingError: a source file is missing, unreachable or fails its checksum.
    """
    import urllib.request  # only a download needs it

    from tqdm import tqdm

    dest = Path(dest if dest is not None else default_dest()).resolve()
    expected = dict(checksums) if checksums is not None else load_checksums(CHECKSUM_FILE)
    source_dir = Path(from_dir).resolve() if from_dir is not None else None
    for rel, digest in tqdm(sorted(expected.items()), desc="data pack", unit="file", disable=not progress):
        target = dest / rel
        if target.is_file() and sha256_file(target) == digest:
            continue
        if source_dir is not None:
            origin = source_dir / rel
            if not origin.is_file():
                raise DataMissingError(f"{origin}: not found in --from folder {source_dir}")
            _copy_verified(lambda o=origin: open(o, "rb"), target, digest, str(origin))
            continue
        if mirror:
            url = mirror_url(mirror, rel)
        elif rel in SOURCES:
            url = SOURCES[rel].url
        else:
            raise DataMissingError(f"{rel}: no download source known for this file")
        try:
            _copy_verified(lambda u=url: urllib.request.urlopen(u, timeout=timeout), target, digest, url)
        except OSError as exc:
            if isinstance(exc, DataMissingError):
                raise
            raise DataMissingError(f"{url}: download failed ({exc}); {_FIX}") from exc
    write_atomic(dest / "SHA256SUMS", "".join(f"{d}  ./{r}\n" for r, d in sorted(expected.items())))
    if source_dir is not None and (source_dir / "SOURCES.md").is_file():
        write_atomic(dest / "SOURCES.md", (source_dir / "SOURCES.md").read_bytes())
    _VERIFIED.pop(dest, None)
    return dest


def ensure_pack(
    *,
    from_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> tuple[Path, bool]:
    """The pack, fetched first when :func:`pack_dir` finds none: what ``make book`` runs.

    A pack found in :func:`candidate_dirs` is verified and used as it is. Otherwise (or when
    the damaged pack is the one in :func:`default_dest`, which a fetch can repair) the pack is
    fetched into :func:`default_dest` with :func:`fetch_pack` and verified.

    Returns:
        ``(folder, fetched)``.

    Raises:
        DataMissingError: the fetch failed, or a pack outside :func:`default_dest` is damaged.
    """
    try:
        folder = pack_dir()
    except DataMissingError:
        folder = None
    if folder is not None:
        try:
            verify_pack(folder)
            return folder, False
        except DataMissingError:
            if folder != default_dest().resolve():
                raise
    dest = fetch_pack(default_dest(), from_dir, mirror=mirror, timeout=timeout, progress=progress)
    verify_pack(dest)
    return dest, True

