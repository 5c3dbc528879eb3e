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


def dataset_from_records(records: dict[str, list]) -> Dataset:
    """Build a schema-conformant Dataset from column lists (audio as {"path", "bytes"} dicts).

    The audio column is cast rather than encoded: `datasets` would otherwise import torchcodec.
    """
    plain = Features({name: feature for name, feature in FEATURES.items() if name != "audio"})
    plain["audio"] = {"bytes": Value("binary"), "path": Value("string")}
    ds = Dataset.from_dict({name: records[name] for name in COLUMNS}, features=plain)
    return ds.cast_column("audio", Audio(decode=False))
