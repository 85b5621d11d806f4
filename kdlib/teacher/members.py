"""The members of a profile's teachers: published runs, and our own trained BERT_CAT."""
from __future__ import annotations

from kdlib.core.profiles import Profile

#: The member name of our own BERT_CAT teacher (trained by kdlib, not a published run).
OWN_MEMBER = "own"


def published_members(profile: Profile) -> list[str]:
    """The published runs the profile's teachers use (T1 and the T2 members, without :data:`OWN_MEMBER`)."""
    names = [profile.teacher.t1, *profile.teacher.t2]
    return sorted({n for n in names if n != OWN_MEMBER})
