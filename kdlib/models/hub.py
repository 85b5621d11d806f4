"""Model directories from the Hugging Face hub: a hub id becomes a local snapshot folder.

``kdlib.models.load("sebastian-hofstaetter/distilbert-dot-margin_mse-T2-msmarco")`` goes
through :func:`resolve_model_dir`, which asks ``huggingface_hub.snapshot_download`` for
the model's files. That uses the standard cache (``$HF_HUB_CACHE``, else
``$HF_HOME/hub``): online it downloads what is missing; offline (``HF_HUB_OFFLINE=1``) it
returns the cached snapshot of ``refs/main`` without any network access.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from kdlib.core.errors import DataMissingError

#: The files a ranker checkpoint needs (configs, vocabularies, weights); other formats a
#: repository may hold (TensorFlow, Flax, ONNX) are not downloaded.
CHECKPOINT_FILES = ("*.json", "*.txt", "*.model", "model.safetensors", "pytorch_model.bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def is_hub_id(name: str) -> bool:
    """Whether ``name`` has the shape of a hub model id (``name`` or ``owner/name``)."""
    return bool(_HUB_ID.match(name)) and ".." not in name and not name.endswith((".", "-"))


def resolve_model_dir(name_or_path: str | os.PathLike, *, revision: str | None = None) -> Path:
    """A local directory for ``name_or_path``: the directory itself, or a hub snapshot.

    Args:
        name_or_path: a model directory, or a hub id such as
            ``sebastian-hofstaetter/colbert-distilbert-margin_mse-T2-msmarco``.
        revision: a branch, tag or commit of the hub repository (default ``main``).

    Returns:
        The directory that holds ``config.json`` and the weights.

    Raises:
        DataMissingError: neither an existing directory nor a model the hub (or, offline,
            the local cache) has.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = os.fspath(name_or_path)
    if not is_hub_id(name):
        raise DataMissingError(f"{name}: no such model directory (nor a Hugging Face hub id: owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, revision=revision, allow_patterns=list(CHECKPOINT_FILES)))
    except LocalEntryNotFoundError as exc:
        raise DataMissingError(
            f"{name}: not a local directory, and not in the Hugging Face cache ({exc.__class__.__name__}); "
            "go online (HF_HUB_OFFLINE=0) once to download it, or point HF_HOME / HF_HUB_CACHE at a cache that has it"
        ) from exc
    except HfHubHTTPError as exc:
        raise DataMissingError(f"{name}: the Hugging Face hub has no such model ({exc})") from exc
