"""What ``ir_datasets`` downloads for the full-scale datasets, with sizes and MD5s.

``ir_datasets`` declares every file it fetches (URL, ``size_hint``, ``expected_md5``) in its
``etc/downloads.json``; which of them a dataset reads is in its
``datasets/msmarco_passage.py`` (:data:`NEEDED` restates that, per dataset kdlib uses).
The dry run lists them so a user sees the ~12 GB before starting.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Iterable

#: Download keys of ``msmarco-passage`` each dataset reads (ir_datasets' msmarco_passage.py):
#: the collection tarball also holds dev/small's queries and qrels, and the small triples'
#: ids are mapped from their texts against the collection.
NEEDED: dict[str, tuple[str, ...]] = {
    "msmarco-passage/train/triples-small": ("collectionandqueries", "queries", "train/qrels",
                                            "train/docpairs/small"),
    "msmarco-passage/dev/small": ("collectionandqueries", "dev/scoreddocs"),
    "msmarco-passage/trec-dl-2019/judged": ("collectionandqueries", "trec-dl-2019/queries",
                                            "trec-dl-2019/qrels", "trec-dl-2019/scoreddocs"),
}


@dataclass(frozen=True)
class IrdsDownload:
    """One file ``ir_datasets`` downloads.

    Attributes:
        key: its key in ``downloads.json`` (``msmarco-passage`` section).
        url: where it comes from.
        size: ``size_hint`` in bytes (``None``: not declared).
        md5: ``expected_md5`` (``None``: not declared).
        datasets: the datasets of the profile that read it.
    """

    key: str
    url: str
    size: int | None
    md5: str | None
    datasets: tuple[str, ...]


def irds_downloads(datasets: Iterable[str]) -> list[IrdsDownload]:
    """The downloads behind ``datasets`` (each once, first use first); unknown ids are skipped."""
    declared = json.loads(resources.files("ir_datasets").joinpath("etc/downloads.json").read_text())
    section = declared["msmarco-passage"]
    users: dict[str, list[str]] = {}
    for name in datasets:
        for key in NEEDED.get(name, ()):
            users.setdefault(key, []).append(name)
    return [IrdsDownload(key, section[key]["url"], section[key].get("size_hint"), section[key].get("expected_md5"),
                         tuple(names)) for key, names in users.items()]
