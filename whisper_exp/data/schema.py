"""The one schema every source is harmonised to before filtering and mixing.

Columns: ``id`` (unique within the source), ``audio`` (``datasets.Audio(decode=False)``:
{"path", "bytes"}), ``text`` (the reference transcript, untouched), ``source`` (the source
name from config), ``duration`` (seconds, float32; NaN when unknown, e.g. streamed bytes),
``speaker`` ("" when unknown). Sample rate and dtype are unified later, at decode time
(`whisper_exp.data.audio.load_audio`), so sources with 48 kHz mp3 and float64 arrays mix
without the "features can't be aligned" error.
"""

from __future__ import annotations

from datasets import Audio, Dataset, Features, Value

COLUMNS: tuple[str, ...] = ("id", "audio", "text", "source", "duration", "speaker")

FEATURES = Features(
    {
        "id": Value("string"),
        "audio": Audio(decode=False),
        "text": Value("string"),
        "source": Value("string"),
        "duration": Value("float32"),
        "speaker": Value("string"),
    }
)


# The same columns with audio as a plain struct: what `map` and `from_dict` may produce without
# `datasets` encoding audio (encoding imports torchcodec); cast to FEATURES afterwards.
PLAIN_FEATURES = Features(
    {name: ({"bytes": Value("binary"), "path": Value("string")} if name == "audio" else feature)
     for name, feature in FEATURES.items()}
)


def dataset_from_records(records: dict[str, list]) -> Dataset:
    """Build a schema-conformant Dataset from column lists (audio as {"path", "bytes"} dicts).

    The audio column is cast rather than encoded: `datasets` would otherwise import torchcodec.
    """
    ds = Dataset.from_dict({name: records[name] for name in COLUMNS}, features=PLAIN_FEATURES)
    return ds.cast_column("audio", Audio(decode=False))


def empty_records() -> dict[str, list]:
    """Column lists for `dataset_from_records`, one per schema column."""
    return {name: [] for name in COLUMNS}
