"""Resumable, verified downloads of large files (the published teacher files, ~2 GB each).

:func:`download` writes into ``<dest>.part`` and continues an interrupted download where
it stopped with an HTTP ``Range`` request (a server that ignores it is read from the start
again). The file appears under its name only once its size and MD5 match; a damaged
download is removed and reported with the command that fetches it again. A file already in
place is checked, never silently replaced.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from kdlib.core.errors import DownloadError

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
#: What a damaged-file error tells the user to run (callers pass their own command).
DEFAULT_FIX = "run the download again"

Opener = Callable[..., object]


class TransferInterrupted(DownloadError):
    """The connection failed or dropped; the partial file is kept and a new attempt resumes it."""


def md5_file(path: str | os.PathLike) -> str:
    """The MD5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_file(path: str | os.PathLike, *, md5: str | None = None, size: int | None = None) -> str | None:
    """What is wrong with ``path`` compared to the expected ``size`` and ``md5``.

    Returns:
        ``None`` when it matches (or nothing is expected), else a short reason.
    """
    actual_size = os.path.getsize(path)
    if size is not None and actual_size != size:
        return f"its size is {actual_size:,} bytes, expected {size:,}"
    if md5 is not None:
        actual = md5_file(path)
        if actual != md5.lower():
            return f"its md5 is {actual}, expected {md5.lower()}"
    return None


def _request(url: str, offset: int) -> urllib.request.Request:
    headers = {"User-Agent": "kdlib (python urllib)"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def _resume_offset(response, offset: int) -> int:
    """Where the response's body starts in the file: ``offset`` for a 206, 0 for a full 200."""
    status = getattr(response, "status", 200)
    if not offset or status == 200:
        return 0
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if status != 206 or match is None or int(match.group(1)) != offset:
        raise DownloadError(f"asked for bytes {offset}- and got HTTP {status} "
                            f"{response.headers.get('Content-Range', '(no Content-Range)')}")
    return offset


def _total_size(response, start: int) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    return start + int(length) if length and length.isdigit() else None


def _transfer(url: str, part: Path, *, size: int | None, timeout: float, progress: bool, label: str,
              opener: Opener) -> None:
    """Fetch ``url`` into ``part``, appending when ``part`` already holds a prefix."""
    from tqdm import tqdm

    offset = part.stat().st_size if part.is_file() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return  # complete already; checked by the caller
    try:
        response = opener(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return  # nothing after ``offset``: the part is complete (or damaged: checked next)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        raise TransferInterrupted(f"{url}: cannot connect ({exc}); run again to resume") from None
    with response:
        start = _resume_offset(response, offset)
        total = _total_size(response, start)
        if start == 0 and offset:
            log.info("%s: the server ignored the Range request; downloading from the start", url)
        with open(part, "ab" if start else "wb") as out, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
            disable=not progress, dynamic_ncols=True,
        ) as bar:
            try:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:  # connection reset, timeout, IncompleteRead
                raise TransferInterrupted(
                    f"{url}: interrupted after {out.tell():,} bytes ({exc}); run again to resume"
                ) from None
            # A connection closed early can look like a normal end of the body.
            if total is not None and out.tell() < total:
                raise TransferInterrupted(
                    f"{url}: interrupted after {out.tell():,} of {total:,} bytes; run again to resume")


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    md5: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    progress: bool = True,
    fix: str = DEFAULT_FIX,
    opener: Opener = urllib.request.urlopen,
) -> Path:
    """Download ``url`` to ``dest`` (resuming a partial ``dest.part``), then check it.

    Args:
        url: an HTTP(S) URL.
        dest: the file to create.
        md5: expected MD5 hex digest (``None``: not checked).
        size: expected size in bytes (``None``: not checked).
        timeout: seconds a connection may stay silent.
        retries: further attempts, each resuming, after an interrupted transfer.
        progress: a tqdm bar with bytes and bytes/s.
        fix: the command a damaged-file error tells the user to run.
        opener: ``urllib.request.urlopen`` or a stand-in (tests).

    Returns:
        ``dest``.

    Raises:
        DownloadError: the server refuses, every attempt is interrupted (the partial file is
            kept for the next run), or the finished file fails its size or MD5 check (the
            message names the file and the fix). A ``dest`` that is already there but
            fails its check is reported, not replaced.
    """
    dest = Path(dest)
    if dest.is_file():
        problem = check_file(dest, md5=md5, size=size)
        if problem:
            raise DownloadError(f"{dest} is damaged: {problem}. Delete it and {fix}")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, size=size, timeout=timeout, progress=progress, label=dest.name, opener=opener)
            break
        except TransferInterrupted as exc:
            if attempt == retries:
                raise
            log.warning("%s (attempt %d of %d)", exc, attempt + 1, retries + 1)
    problem = check_file(part, md5=md5, size=size)
    if problem:
        part.unlink()
        raise DownloadError(f"downloaded {dest} from {url}, but {problem}: the download was damaged "
                            f"and has been removed; {fix}")
    os.replace(part, dest)
    return dest
