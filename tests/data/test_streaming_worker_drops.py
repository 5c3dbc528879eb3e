"""Streaming with DataLoader workers: the drops counted in the workers reach the main process exactly, once
(issue 18, item 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_audiofolder, write_tone
from transformers import WhisperFeatureExtractor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.errors import DropCounter
from whisper_exp.data.pipeline import build_stream
from whisper_exp.data.streaming import EpochDataLoader
from whisper_exp.families.whisper import WhisperCollator

EXTRACTOR = WhisperFeatureExtractor(feature_size=80)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 training rows: 9 good, 3 empty transcripts, 2 too long (known from the header), 1 NaN clip (found when
    decoded, in a worker), 1 corrupt file (found by the reader, in the main process)."""
    root = tmp_path_factory.mktemp("faulty")
    rows = []
    for i in range(16):
        name = f"{i}.wav"
        if i == 15:
            (root / name).write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
        elif i == 14:
            sf.write(root / name, np.full(4800, np.nan, dtype=np.float32), 16_000, subtype="FLOAT")
        else:
            write_tone(root / name, 31.0 if i in (3, 9) else 0.3, frequency=200 + 20 * i)
        rows.append({"file_name": name, "transcription": "" if i in (1, 6, 11) else f"clip {i}", "split": "train"})
    return write_audiofolder(root, rows)


def _epochs(root: Path, workers: int, epochs: int = 2) -> tuple[list[list[str]], DropCounter]:
    data = typed_defaults(DataConfig, name="f", sources={"f": typed_defaults(SourceConfig, kind="local",
                                                                             path=str(root))}, streaming=True,
                          stream_shards=4, on_error="skip", num_workers=workers)
    drops = DropCounter()
    split = build_stream(data, "train", extractor=EXTRACTOR, labeller=lambda t: [1] * (len(t.split()) + 3),
                         max_label_tokens=448, seed=1, drops=drops)
    loader = EpochDataLoader(split, batch_size=3, collate_fn=WhisperCollator(EXTRACTOR.nb_max_frames),
                             num_workers=workers)
    seen = [[i for batch in loader for i in batch["ids"]] for _ in range(epochs)]
    return seen, drops


def test_worker_drops_reach_the_main_process_once(faulty: Path) -> None:
    seen0, drops0 = _epochs(faulty, 0)
    seen2, drops2 = _epochs(faulty, 2)
    expected = {"f": {"empty transcript": 3, "longer than 30.0 s": 2, "non-finite audio": 1, "unreadable audio": 1}}
    assert drops0.as_dict() == drops2.as_dict() == expected  # two epochs, counted once
    assert sorted(seen0[0]) == sorted(seen2[0]) == sorted(seen2[1])
    assert len(seen2[0]) == 9
