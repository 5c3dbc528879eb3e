"""Validate the CTranslate2 → transformers converter on real speech.

Converts the bundled Whisper checkpoints (tiny.en, base), greedily transcribes every clip listed in
``metadata.csv`` of the real-speech folder, and prints per-clip and overall WER after Whisper's English
normaliser. Exit status 1 when tiny.en misses the acceptance bar (overall WER ≤ 10 %, jfk exact).

    .venv/bin/python experiments/converter_validation/validate.py [--models tiny.en base]
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import soundfile
import soxr
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor
from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

from whisper_exp.models.bundled import BundledCheckpointNotInstalledError, convert_bundled

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO.parent / "shared/data/real_speech"
DEFAULT_CACHE = REPO / ".cache"
SAMPLE_RATE = 16_000
MAX_SECONDS = 30.0  # one Whisper window; longer clips would need long-form decoding
ACCEPT_MODEL = "tiny.en"
ACCEPT_MAX_WER = 0.10
EXACT_CLIP = "jfk.flac"


@dataclass
class ClipResult:
    file_name: str
    seconds: float
    reference: str
    hypothesis: str
    wer: float


def load_16k_mono(path: Path) -> np.ndarray:
    """Decode with soundfile, mix to mono and resample to 16 kHz with soxr."""
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    return mono if rate == SAMPLE_RATE else soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)


def english_normaliser(processor: WhisperProcessor) -> EnglishTextNormalizer:
    """Whisper's English normaliser; the spelling map (hub ``normalizer.json``) is absent offline."""
    return EnglishTextNormalizer(processor.tokenizer.english_spelling_normalizer or {})


def transcribe_all(
    model_dir: Path, clips: list[dict[str, str]], data_dir: Path
) -> tuple[list[ClipResult], EnglishTextNormalizer]:
    """Greedy transcription of each clip (English, transcribe task for multilingual models)."""
    model = WhisperForConditionalGeneration.from_pretrained(model_dir).eval()
    processor = WhisperProcessor.from_pretrained(model_dir)
    normaliser = english_normaliser(processor)
    options = {"language": "en", "task": "transcribe"} if model.generation_config.is_multilingual else {}
    results = []
    for clip in clips:
        audio = load_16k_mono(data_dir / clip["file_name"])
        seconds = len(audio) / SAMPLE_RATE
        if seconds > MAX_SECONDS:
            print(f"WARNING {clip['file_name']} is {seconds:.1f} s; only the first 30 s are transcribed")
        features = processor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
        with torch.inference_mode():
            ids = model.generate(features, num_beams=1, do_sample=False, **options)
        hypothesis = processor.batch_decode(ids, skip_special_tokens=True)[0].strip()
        reference, normalised = normaliser(clip["transcription"]), normaliser(hypothesis)
        wer = jiwer.wer(reference, normalised)
        results.append(ClipResult(clip["file_name"], seconds, clip["transcription"], hypothesis, wer))
    return results, normaliser


def report(name: str, results: list[ClipResult], normaliser: EnglishTextNormalizer) -> tuple[float, bool]:
    """Print the per-clip table; return the overall (corpus) WER and whether the exact clip matched."""
    print(f"\n=== {name} ===")
    for r in results:
        print(f"{r.file_name:40s} {r.seconds:5.1f}s  WER {100 * r.wer:6.2f}%")
        print(f"    REF: {r.reference}")
        print(f"    HYP: {r.hypothesis}")
    overall = jiwer.wer([normaliser(r.reference) for r in results], [normaliser(r.hypothesis) for r in results])
    exact = [normaliser(r.reference) == normaliser(r.hypothesis) for r in results if r.file_name == EXACT_CLIP]
    print(f"{name}: overall normalised WER {100 * overall:.2f}% over {len(results)} clips")
    print(f"{name}: {EXACT_CLIP} exact after normalisation: {bool(exact and exact[0])}")
    return overall, bool(exact and exact[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"], help="bundled checkpoint names")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder with metadata.csv")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="conversion cache root")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    metadata = args.data_dir / "metadata.csv"
    if not metadata.is_file():
        print(f"ERROR: {metadata} not found (pass --data-dir)", file=sys.stderr)
        return 2
    with open(metadata, newline="", encoding="utf-8") as handle:
        clips = list(csv.DictReader(handle))

    status = 0
    for name in args.models:
        try:
            model_dir = convert_bundled(name, args.cache_dir)
        except BundledCheckpointNotInstalledError as exc:
            print(f"SKIP {name}: {exc}")
            continue
        start = time.perf_counter()
        results, normaliser = transcribe_all(model_dir, clips, args.data_dir)
        overall, exact = report(name, results, normaliser)
        print(f"{name}: transcription took {time.perf_counter() - start:.1f} s ({model_dir})")
        if name == ACCEPT_MODEL:
            passed = overall <= ACCEPT_MAX_WER and exact
            verdict = "PASS" if passed else "FAIL"
            print(f"{name}: acceptance (WER ≤ {100 * ACCEPT_MAX_WER:.0f}% and jfk exact): {verdict}")
            status = status or (0 if passed else 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
