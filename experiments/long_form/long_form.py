"""Long-form WER: demo_sg test clips concatenated into 2–5-minute files, transcribed whole by each backend, vs the
short-form WER of the same clips (one 30-s window each).

    python experiments/long_form/long_form.py HF_DIR [--ct2 CT2_DIR] [--ggml GGML_FILE] [--out DIR]

Prints and writes DIR/long_form.json. The hf backend is run both ways transformers offers (sequential: seek by
predicted timestamps; chunked: overlapping 30-s chunks merged), which is how `transcribe`'s default was chosen.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from whisper_exp.export import DEMO_DATA, parity_normaliser
from whisper_exp.export.parity import Clip, load_clips, transcribe_all
from whisper_exp.metrics.wer import score
from whisper_exp.transcribe.backends import SAMPLE_RATE, DecodeOptions, load_backend


def concatenate(clips: list[Clip], target_s: float, gap_s: float) -> list[tuple[np.ndarray, str, list[Clip]]]:
    """Consecutive clips joined with `gap_s` of silence into files of about `target_s` (the remainder joins the
    last file)."""
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32)
    groups: list[list[Clip]] = [[]]
    for clip in clips:
        if sum(len(c.audio) for c in groups[-1]) / SAMPLE_RATE >= target_s:
            groups.append([])
        groups[-1].append(clip)
    if len(groups) > 1 and sum(len(c.audio) for c in groups[-1]) / SAMPLE_RATE < target_s / 2:
        groups[-2] += groups.pop()
    return [(np.concatenate([part for c in g for part in (c.audio, gap)]), " ".join(c.reference for c in g), g)
            for g in groups]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("hf_dir", type=Path)
    parser.add_argument("--ct2", type=Path)
    parser.add_argument("--ggml", type=Path)
    parser.add_argument("--out", type=Path, default=Path("long_form_out"))
    parser.add_argument("--target-s", type=float, default=140.0)
    parser.add_argument("--gap-s", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated run names to keep, e.g. hf-sequential,ct2")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = load_clips(DEMO_DATA, "test", None)
    files = concatenate(clips, args.target_s, args.gap_s)
    for i, (audio, _, _) in enumerate(files):
        sf.write(args.out / f"long_{i}.wav", audio, SAMPLE_RATE)
    normaliser = parity_normaliser(args.hf_dir)
    refs = [ref for _, ref, _ in files]
    runs = [("hf", args.hf_dir, "sequential"), ("hf", args.hf_dir, "chunked")]
    runs += [("ct2", args.ct2, "sequential")] if args.ct2 else []
    runs += [("ggml", args.ggml, "sequential")] if args.ggml else []
    results: dict = {"files": [round(len(a) / SAMPLE_RATE, 1) for a, _, _ in files], "model": str(args.hf_dir),
                     "runs": []}
    if args.only:
        keep = set(args.only.split(","))
        runs = [r for r in runs if r[0] in keep or f"{r[0]}-{r[2]}" in keep]
    short_cache: dict[str, float] = {}
    for kind, path, mode in runs:
        backend = load_backend(path, kind, threads=args.threads)
        if kind not in short_cache:
            texts, _ = transcribe_all(backend, clips, DecodeOptions())
            short_cache[kind] = score(texts, [c.reference for c in clips], normaliser).wer
            stamped, _ = transcribe_all(backend, clips, DecodeOptions(timestamps=True))
            short_cache[f"{kind}_timestamps"] = score(stamped, [c.reference for c in clips], normaliser).wer
            results[f"short_form_{kind}"] = {"wer": short_cache[kind], "texts": texts,
                                             "wer_timestamps": short_cache[f"{kind}_timestamps"],
                                             "texts_timestamps": stamped}
            print(f"{kind:4s} short-form WER {short_cache[kind]:.4f} (no timestamps), "
                  f"{short_cache[f'{kind}_timestamps']:.4f} (timestamps)", flush=True)
        started = time.perf_counter()
        hyps = [backend.transcribe(audio, DecodeOptions(long_form=mode)).text for audio, _, _ in files]
        seconds = time.perf_counter() - started
        audio_s = sum(len(a) for a, _, _ in files) / SAMPLE_RATE
        long_wer = score(hyps, refs, normaliser).wer
        results["runs"].append({"backend": kind, "long_form": mode, "short_form_wer": short_cache[kind],
                                "long_form_wer": long_wer, "delta_points": 100 * (long_wer - short_cache[kind]),
                                "real_time_factor": seconds / audio_s, "hypotheses": hyps})
        print(f"{kind:4s} {mode:10s} short-form WER {short_cache[kind]:.4f}  long-form WER {long_wer:.4f}  "
              f"Δ {100 * (long_wer - short_cache[kind]):+.2f} points  RTF {seconds / audio_s:.3f}", flush=True)
    results["references"] = refs
    (args.out / "long_form.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
