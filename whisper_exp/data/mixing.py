"""Several sources → one split: interleave (training) or concatenate (evaluation, or when asked).

Every source is already in the common schema (`data.schema.FEATURES`), so tables built from
48 kHz mp3 bytes, float64 arrays or file paths combine without "features can't be aligned".

* Training with ``data.mix.strategy=interleave``: `datasets.interleave_datasets` with the
  per-source ``data.mix.probabilities`` (normalised; null = one example from each source in
  turn), ``data.mix.stopping_strategy`` (``first_exhausted`` stops with the smallest source;
  ``all_exhausted`` oversamples smaller sources until every one has been seen once) and
  ``data.mix.seed``.
* Validation and test always concatenate, so every source is scored whole and keeps its name
  for the per-source WER.
"""

from __future__ import annotations

from datasets import Dataset, IterableDataset, concatenate_datasets, interleave_datasets

from whisper_exp.config.schema import MixConfig
from whisper_exp.data.errors import DataError

Table = Dataset | IterableDataset


def probabilities_for(names: list[str], mix: MixConfig) -> list[float] | None:
    """Normalised sampling probabilities for `names` (None: alternate one by one)."""
    if mix.probabilities is None:
        return None
    weights = [float(mix.probabilities.get(name, 0.0)) for name in names]
    total = sum(weights)
    if total <= 0 or any(w <= 0 for w in weights):
        missing = [n for n, w in zip(names, weights, strict=True) if w <= 0]
        raise DataError(f"data.mix.probabilities gives no weight to source(s) {missing}; give every mixed source "
                         "a weight > 0 (a source that is never drawn would never be exhausted)")
    return [w / total for w in weights]


def combine(tables: dict[str, Table], split: str, mix: MixConfig) -> Table:
    """One table for `split` from per-source tables (see module doc)."""
    names = list(tables)
    parts = [tables[name] for name in names]
    if len(parts) == 1:
        return parts[0]
    if split == "train" and mix.strategy == "interleave":
        return interleave_datasets(parts, probabilities=probabilities_for(names, mix), seed=mix.seed,
                                   stopping_strategy=mix.stopping_strategy)
    return concatenate_datasets(parts)
