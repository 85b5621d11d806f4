"""The profile's train / validation / test datasets, loaded once per process."""
from __future__ import annotations

from typing import Any

from kdlib.core.profiles import Profile

_SPLITS: dict[str, Any] = {}


def splits(profile: Profile):
    """Train / validation / test datasets of the profile (cached per process)."""
    from kdlib.data import training_splits

    key = profile.fingerprint("data")
    if key not in _SPLITS:
        _SPLITS[key] = training_splits(profile.data)
    return _SPLITS[key]


def rerank_test(profile: Profile, ranker: Any) -> dict[str, dict[str, float]]:
    """``ranker`` re-ranking the profile's test candidates."""
    from kdlib.eval.rerank import rerank

    return rerank(ranker, splits(profile).test, candidates=profile.data.candidates, depth=profile.data.rerank_depth,
                  batch_size=profile.eval.batch_size)
