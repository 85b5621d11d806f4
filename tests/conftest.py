"""Test-wide settings: offline, deterministic, and gentle on a 2-core machine."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# ir_datasets fixes its cache folder when it is first imported, so the tests' own (empty,
# private) one is set here, before any test module imports it: a test never reads or
# writes a real ir_datasets cache, and the miniature MS MARCO below is built inside it.
_IRDS_HOME = tempfile.mkdtemp(prefix="kdlib-test-irds-")
os.environ["IR_DATASETS_HOME"] = _IRDS_HOME
os.environ["IR_DATASETS_TMP"] = os.path.join(_IRDS_HOME, "tmp")
# The MS MARCO docs store declares a 14 GB size hint; the miniature needs a few MB.
os.environ["IR_DATASETS_SKIP_DISK_FREE"] = "true"
atexit.register(shutil.rmtree, _IRDS_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def msmarco_mini():
    """A miniature MS MARCO passage that the real ``ir_datasets`` reads (tests/fixtures/msmarco_mini.py)."""
    from fixtures import msmarco_mini as builder

    return builder.build(_IRDS_HOME)
