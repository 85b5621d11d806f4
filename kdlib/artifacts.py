"""Where results live: ``artifacts/<profile>/<stage>/<key-hash>/``.

Every expensive step (a training run, a teacher file, a re-ranking) writes into a directory
whose name is a hash of exactly the configuration it depends on and of the code that computes
it (:func:`code_fingerprint`), and marks it finished with a ``DONE`` file. A changed parameter
therefore re-runs only what depends on it, a fixed model or loss re-runs every stage instead of
serving results of the broken code, and a finished stage is never recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

#: The folder above the package: the repository in a clone (notebooks, book pages, _config.yml).
REPO_ROOT = Path(__file__).resolve().parent.parent
DONE = "DONE"


def root() -> Path:
    """The artifact root: ``$KDLIB_ARTIFACTS``, else ``artifacts/`` in kdlib's home
    (the repository clone, ``$KDLIB_HOME`` or the working directory; see :mod:`kdlib.paths`)."""
    from kdlib.paths import home

    return Path(os.environ.get("KDLIB_ARTIFACTS") or home() / "artifacts")


def key_hash(key: Mapping[str, Any]) -> str:
    """A short, stable hash of a JSON-serialisable mapping."""
    blob = json.dumps(key, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


#: Modules that only present results (tables, figures, verdicts, the book and the command
#: line): changing them never changes what a stage computes, so they are not fingerprinted.
_PRESENTATION = ("plots.py", "claims.py", "reproduce.py", "runner.py", "cli.py", "bookext.py", "paper.py",
                 "export.py", "experiments.py", "commands")
_FINGERPRINT: list[str] = []


def code_fingerprint() -> str:
    """A hash of the kdlib sources that compute results (models, losses, training, data,
    teachers, evaluation), the same in every copy of the same code."""
    if not _FINGERPRINT:
        _FINGERPRINT.append(source_fingerprint(Path(__file__).resolve().parent))
    return _FINGERPRINT[0]


def source_fingerprint(package: Path) -> str:
    """:func:`code_fingerprint` of the package in ``package`` (presentation modules left out)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] in _PRESENTATION or "__pycache__" in relative.parts:
            continue
        digest.update(str(relative).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def stage_dir(profile_name: str, stage: str, key: Mapping[str, Any]) -> Path:
    """The directory of one stage run; ``key.json`` inside records what it depends on
    (``key`` and the :func:`code_fingerprint` of the code that computes it)."""
    key = {**key, "code": code_fingerprint()}
    path = root() / profile_name / stage / key_hash(key)
    path.mkdir(parents=True, exist_ok=True)
    key_file = path / "key.json"
    if not key_file.exists():
        write_text_atomic(key_file, json.dumps(key, indent=2, sort_keys=True, default=str))
    return path


def is_done(path: Path) -> bool:
    return (path / DONE).exists()


def mark_done(path: Path) -> None:
    write_text_atomic(path / DONE, "")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
