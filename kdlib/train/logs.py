"""JSON-lines logs of a run (``train_log.jsonl``, ``validation.jsonl``), resume-safe."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kdlib.core.artifacts import write_atomic

TRAIN_LOG = "train_log.jsonl"
VALIDATION_LOG = "validation.jsonl"


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON row and flush it to disk (a killed run keeps every written row)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Every complete row of a JSON-lines log (a torn last line from a kill is ignored)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def truncate_after(path: Path, step: int) -> None:
    """Keep the rows of steps ``<= step`` (resuming from a checkpoint at ``step``)."""
    rows = [r for r in read_rows(path) if r.get("step", 0) <= step]
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))
