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


_EVAL: dict[tuple[str, str], Any] = {}


def test_set(profile: Profile, name: str | None = None):
    """Test dataset ``name``: ``data.test`` (the default) or one of ``data.eval_datasets``, its
    held-out validation queries left out (cached per process)."""
    if name is None or name == profile.data.test:
        return splits(profile).test
    if name not in profile.data.eval_datasets:
        raise ValueError(f"{name!r} is not a test set of profile {profile.name!r}: "
                         f"expected {[profile.data.test, *profile.data.eval_datasets]}")
    key = (profile.fingerprint("data"), name)
    if key not in _EVAL:
        from kdlib.data.sources import source_for

        config = profile.data
        dataset = source_for(config).load(name, max_queries=config.max_queries, candidates=False,
                                          depth=config.rerank_depth)
        held = set(splits(profile).validation.queries)
        _EVAL[key] = dataset.subset(q for q in dataset.judged_qids() if q not in held)
    return _EVAL[key]


def test_sets(profile: Profile) -> dict[str, str]:
    """Every test set of the profile with its headline measure: ``data.test`` with nDCG@10,
    then each ``data.eval_datasets`` dataset with the first of its own measures (MRR@10 for
    MSMARCO-DEV and the MS MARCO dev sample, :func:`kdlib.data.irds.measures_for`)."""
    from kdlib.data.irds import measures_for

    return {profile.data.test: "nDCG@10", **{name: measures_for(name)[0] for name in profile.data.eval_datasets}}
