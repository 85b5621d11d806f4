"""The paper's published teacher files (Zenodo record 4068216): where they live, fetching them.

Each file holds one line per official training triple, ``pos_score neg_score qid pos_pid
neg_pid`` (tab-separated, ~40M lines): T1 is BERT-Base_CAT, T2 the mean ensemble of three
BERT_CAT teachers. The profile names them with their URL and MD5
(``teacher.published_files``, :class:`kdlib.core.profiles.PublishedFile`); :func:`fetch_teachers`
downloads and checks them (``kdlib data fetch-teachers``), and
:func:`kdlib.data.teacher_stream.iter_teacher_examples` reads one as training examples.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from kdlib.core.errors import ConfigError, DownloadError
from kdlib.core.paths import REPO_ROOT
from kdlib.core.profiles import PublishedFile
from kdlib.data.download import download

#: The environment variable that overrides :func:`teacher_dir`.
TEACHER_DIR_ENV = "KDLIB_TEACHERS"
#: What an error about a missing or damaged teacher file tells the user to run.
FETCH_COMMAND = "run `kdlib data fetch-teachers` (add --dest DIR if they are kept elsewhere)"


def teacher_dir() -> Path:
    """Where published teacher files are kept: ``$KDLIB_TEACHERS``, else ``<repo>/data/teachers``."""
    return Path(os.environ.get(TEACHER_DIR_ENV) or REPO_ROOT / "data" / "teachers").expanduser()


def teacher_path(published: PublishedFile, dest: str | os.PathLike | None = None) -> Path:
    """The local path of a published file: its URL's file name inside ``dest`` (default :func:`teacher_dir`)."""
    return Path(dest if dest is not None else teacher_dir()) / published.filename


def published_teacher_file(
    files: Mapping[str, PublishedFile], name: str, dest: str | os.PathLike | None = None
) -> Path:
    """The local, already fetched file of teacher ``name`` (what training reads).

    Raises:
        ConfigError: the profile publishes no teacher ``name``.
        DownloadError: the file has not been fetched yet (the message says how).
    """
    if name not in files:
        raise ConfigError(f"no published teacher file {name!r}; the profile has {sorted(files)}")
    path = teacher_path(files[name], dest)
    if not path.is_file():
        raise DownloadError(f"teacher file {name} is not in {path.parent} ({path.name} missing); {FETCH_COMMAND}")
    return path


def fetch_teachers(
    files: Mapping[str, PublishedFile],
    names: Iterable[str] | None = None,
    *,
    dest: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Download (resuming) and check the published teacher files.

    A file already in ``dest`` is checked against its size and MD5, not downloaded again.

    Args:
        files: teacher name -> :class:`PublishedFile` (``profile.teacher.published_files``).
        names: the teachers to fetch (default: all of ``files``).
        dest: the folder (default: :func:`teacher_dir`).
        progress: a tqdm bar per file (bytes and bytes/s).
        timeout: seconds a connection may stay silent.

    Returns:
        teacher name -> local path, every one checked.

    Raises:
        ConfigError: an unknown teacher name, or a profile without published files.
        DownloadError: a download failed, or a file is damaged (named, with the fix).
    """
    if not files:
        raise ConfigError("the profile publishes no teacher files (teacher.published_files is empty)")
    wanted = list(names) if names is not None else list(files)
    unknown = [n for n in wanted if n not in files]
    if unknown:
        raise ConfigError(f"no published teacher file {unknown}; the profile has {sorted(files)}")
    fetched: dict[str, Path] = {}
    for name in wanted:
        published = files[name]
        # A wrong checksum in the profile (e.g. a --set typo) looks like a damaged file: say both.
        fix = (f"{FETCH_COMMAND}; if the file itself is right, correct teacher.published_files.{name}.md5 "
               f"(or .size) in the profile")
        fetched[name] = download(
            published.url, teacher_path(published, dest), md5=published.md5, size=published.size,
            timeout=timeout, progress=progress, fix=fix,
        )
    return fetched
