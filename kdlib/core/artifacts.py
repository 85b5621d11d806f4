"""Where results live: ``artifacts/<profile>/<stage>/<key-hash>/``.

Every expensive step (a training run, a teacher file, a re-ranking) writes into a directory
whose name is a hash of exactly the configuration it depends on and of the code that computes
it (:func:`code_fingerprint`), and marks it finished with a ``DONE`` file. A changed parameter
therefore re-runs only what depends on it, a fixed model or loss re-runs every stage instead of
serving results of the broken code, and a finished stage is never recomputed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

from kdlib.core.paths import PACKAGE_DIR, home

DONE = "DONE"


def root() -> Path:
    """The artifact root: ``$KDLIB_ARTIFACTS``, else ``artifacts/`` in kdlib's home
    (the repository clone, ``$KDLIB_HOME`` or the working directory; see :mod:`kdlib.core.paths`)."""
    return Path(os.environ.get("KDLIB_ARTIFACTS") or home() / "artifacts")


def key_hash(key: Mapping[str, Any]) -> str:
    """A short, stable hash of a JSON-serialisable mapping."""
    blob = json.dumps(key, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


#: Packages that only present results (the book's runner, extension and figures; the command
#: line): changing them never changes what a stage computes, so they are left out of the code
#: fingerprint. A rule over packages, not a list of files: a module added to them is covered.
PRESENTATION_PACKAGES = ("book", "cli")
_FINGERPRINT: list[str] = []


def code_fingerprint() -> str:
    """A hash of the kdlib sources that compute results (every package but the presentation
    ones), the same in every copy of the same code."""
    if not _FINGERPRINT:
        _FINGERPRINT.append(source_fingerprint(PACKAGE_DIR))
    return _FINGERPRINT[0]


def fingerprinted(relative: Path) -> bool:
    """Whether the module at ``relative`` (to the package folder) is part of :func:`code_fingerprint`."""
    parts = relative.parts
    return parts[0] not in PRESENTATION_PACKAGES and "__pycache__" not in parts and relative.suffix == ".py"


def source_fingerprint(package: Path) -> str:
    """:func:`code_fingerprint` of the package in ``package`` (:func:`fingerprinted` modules)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if not fingerprinted(relative):
            continue
        digest.update(str(relative).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def stage_path(profile_name: str, stage: str, key: Mapping[str, Any]) -> Path:
    """The directory of one stage run (not created): ``<root>/<profile>/<stage>/<hash>``,
    the hash covering ``key`` and the :func:`code_fingerprint`."""
    return root() / profile_name / stage / key_hash({**key, "code": code_fingerprint()})


def stage_dir(profile_name: str, stage: str, key: Mapping[str, Any]) -> Path:
    """:func:`stage_path`, created; ``key.json`` inside records what it depends on
    (``key`` and the :func:`code_fingerprint` of the code that computes it)."""
    path = stage_path(profile_name, stage, key)
    path.mkdir(parents=True, exist_ok=True)
    key_file = path / "key.json"
    if not key_file.exists():
        write_json(key_file, {**key, "code": code_fingerprint()}, indent=2)
    return path


def is_done(path: Path) -> bool:
    return (path / DONE).exists()


def mark_done(path: Path) -> None:
    write_atomic(path / DONE, "")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write (``with atomic_path(p) as tmp: ...``); it is
    renamed over ``path`` when the block ends without an error, and removed otherwise.

    The one atomic writer: :func:`open_atomic` and :func:`write_atomic` are built on it, and
    writers that need a file name (faiss) use it directly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open ``path`` for writing (``w``: UTF-8 text with ``\\n`` line ends, ``wb``: bytes) so
    that it appears under its name, flushed to disk, only when the block ends without an error."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_atomic writes a whole file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        text = {"encoding": "utf-8", "newline": "\n"} if mode == "w" else {}
        with open(tmp, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` so that readers never see a
    half-written file (:func:`open_atomic`)."""
    with open_atomic(path, "w" if isinstance(data, str) else "wb") as handle:
        handle.write(data)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 1) -> Path:
    """:func:`write_atomic` of ``data`` as JSON (sorted keys; non-JSON values as strings)."""
    return write_atomic(path, json.dumps(data, indent=indent, sort_keys=True, default=str))


def write_csv(path: str | os.PathLike, frame: Any, **to_csv: Any) -> Path:
    """:func:`write_atomic` of a pandas frame as CSV (without its index unless asked)."""
    return write_atomic(path, frame.to_csv(**{"index": False, **to_csv}))


def staging_dir(target: str | os.PathLike) -> Path:
    """A fresh temporary directory beside ``target``, to fill and then :func:`swap_dir` in."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))


def swap_dir(staging: str | os.PathLike, target: str | os.PathLike, *, keep_existing: bool = False) -> Path:
    """Make directory ``staging`` appear as ``target``, replacing it, with no moment at which
    neither exists: a kill at any point leaves the old or the new copy complete.

    An existing ``target`` is renamed to ``<target>.old`` first and deleted last; a kill between
    the two renames leaves only ``<target>.old``, which the next swap (and :func:`live_dir`)
    treats as the live copy.

    Args:
        keep_existing: a ``target`` that exists (another process built the same content
            first) is kept and ``staging`` discarded, instead of being replaced.
    """
    staging, target = Path(staging), Path(target)
    if keep_existing:
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(staging, ignore_errors=True)
        return target
    old = target.with_name(target.name + ".old")
    if old.exists():
        if target.exists():
            shutil.rmtree(old)
        else:
            os.replace(old, target)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def live_dir(target: str | os.PathLike) -> Path | None:
    """The complete copy of a :func:`swap_dir` target: ``target``, else the ``.old`` copy a kill
    mid-swap left behind, else ``None``."""
    target = Path(target)
    for path in (target, target.with_name(target.name + ".old")):
        if path.is_dir():
            return path
    return None


class stage_lock:
    """An exclusive lock on a stage directory (``with stage_lock(path): ...``).

    Two notebooks executing in parallel may ask for the same stage (say, a student's
    baseline); the second waits for the first and then finds the finished result.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path) / ".lock"

    def __enter__(self) -> "stage_lock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "w")
        fcntl.flock(self._handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
