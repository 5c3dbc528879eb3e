"""Speaker-level helpers shared by the corpus readers: speaker-disjoint splits and age groups.

Splits: speakers are sorted, then shuffled with a fixed *split* seed (never the run seed, so the
test set does not move between runs); the first ``test`` fraction go to test, the next
``validation`` fraction to validation, the rest train. With strata (e.g. each speaker's age group)
every stratum is shuffled and cut on its own, so children and adults are in every split; a stratum
too small to give each split a speaker keeps its speakers in train. No speaker is in two splits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from whisper_exp.data.errors import DataError

MIN_SPEAKERS = 3
# Age groups (years): child < 13, teen 13–19, adult >= 20 — the bins of the speechocean762 study.
AGE_GROUP_NAMES: tuple[str, ...] = ("child", "teen", "adult")
AGE_GROUP_EDGES: tuple[float, ...] = (13.0, 20.0)


def age_group(age: str | float | None, edges: Sequence[float] = AGE_GROUP_EDGES,
              names: Sequence[str] = AGE_GROUP_NAMES) -> str:
    """The group of `age` (years): names[i] for the first edge it is below, else the last name; "" if unknown."""
    if len(names) != len(edges) + 1:
        raise ValueError(f"age groups: {len(names)} names for {len(edges)} edges (need one more name than edges)")
    try:
        years = float(age) if age is not None and str(age).strip() else math.nan
    except ValueError:
        return ""
    if math.isnan(years):
        return ""
    for name, edge in zip(names, edges, strict=False):
        if years < edge:
            return name
    return names[-1]


def _count(fraction: float, n: int) -> int:
    return 0 if fraction <= 0 else max(1, round(fraction * n))


def speaker_splits(speakers: Sequence[str], *, test: float, validation: float, seed: int, source: str,
                   strata: Mapping[str, str] | None = None,
                   keys: tuple[str, str] = ("test_speakers", "validation_speakers")) -> dict[str, set[str]]:
    """Speaker-disjoint {"train", "validation", "test"} speaker sets (see the module doc).

    `test` / `validation` are fractions of the speakers (at least one speaker each when > 0); `keys` name
    the config keys that set them, for the error message.
    """
    unique = sorted(set(speakers))
    if len(unique) < MIN_SPEAKERS:
        raise DataError(f"[{source}] {len(unique)} speaker(s) found; at least {MIN_SPEAKERS} are needed for "
                        "speaker-disjoint train/validation/test splits")
    groups: dict[str, list[str]] = {}
    for speaker in unique:
        groups.setdefault((strata or {}).get(speaker, ""), []).append(speaker)
    rng = np.random.default_rng(seed)
    splits: dict[str, set[str]] = {"test": set(), "validation": set(), "train": set()}
    for stratum in sorted(groups):
        members = groups[stratum]
        order = [members[i] for i in rng.permutation(len(members))]
        n_test, n_val = _count(test, len(members)), _count(validation, len(members))
        if n_test + n_val >= len(members):
            if strata is None:
                raise DataError(f"[{source}] {keys[0]} + {keys[1]} leave no training speaker ({len(unique)} speakers)")
            n_test = n_val = 0  # a stratum too small to share: all its speakers train
        splits["test"].update(order[:n_test])
        splits["validation"].update(order[n_test:n_test + n_val])
        splits["train"].update(order[n_test + n_val:])
    return splits
