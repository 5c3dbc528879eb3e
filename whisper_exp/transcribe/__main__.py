"""`python -m whisper_exp.transcribe MODEL AUDIO... [--backend hf|ct2|ggml] [--format txt|srt|vtt|json]
[--language L] [--beam-size N] [--out DIR]`

MODEL: a transformers folder (hf_model/), a CTranslate2 folder (ct2_model/) or a whisper.cpp file
(ggml-model.bin); the backend is detected from it unless --backend is given. Any length of audio: up to 30 s in
one window, longer files with each backend's long-form decoding (hf: --long-form sequential, the default, or
chunked; see README "Transcribe" for the measured choice). Exit status 1 when any file was skipped.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from transformers.utils import logging as transformers_logging

from whisper_exp.transcribe import InputLimits, transcribe_files
from whisper_exp.transcribe.backends import BACKENDS, LONG_FORM_MODES, BackendError, DecodeOptions, load_backend
from whisper_exp.transcribe.formats import FORMATS


def _parser() -> argparse.ArgumentParser:
    limits = InputLimits()
    parser = argparse.ArgumentParser(prog="python -m whisper_exp.transcribe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("audio", type=Path, nargs="+")
    parser.add_argument("--backend", choices=BACKENDS, help="default: detected from MODEL")
    parser.add_argument("--format", default="txt", choices=FORMATS)
    parser.add_argument("--language", help="e.g. en; default: the model's own (multilingual: detected)")
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--long-form", default="sequential", choices=LONG_FORM_MODES,
                        help="hf backend, audio > 30 s: sequential (seek by timestamps) or chunked")
    parser.add_argument("--timestamps", action="store_true", help="timestamped segments for short files too")
    parser.add_argument("--out", type=Path, help="write transcripts here (default: next to each input)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--max-duration-s", type=float, default=limits.max_duration_s)
    parser.add_argument("--silence-dbfs", type=float, default=limits.silence_dbfs)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    transformers_logging.set_verbosity_error()  # its generate() warns about its own defaults on every call
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.beam_size < 1:
        print("error: --beam-size must be >= 1", file=sys.stderr)
        return 2
    try:
        backend = load_backend(args.model, args.backend, threads=args.threads)
    except (BackendError, OSError, ValueError) as err:
        print(f"error: cannot load model {args.model}: {err}", file=sys.stderr)
        return 2
    options = DecodeOptions(language=args.language, beam_size=args.beam_size, timestamps=args.timestamps
                            or args.format in ("srt", "vtt"), long_form=args.long_form, threads=args.threads)
    report = transcribe_files(backend, args.audio, options, fmt=args.format, out_dir=args.out,
                              limits=InputLimits(args.max_duration_s, args.silence_dbfs), progress=not args.no_progress)
    done = sum(1 for r in report.results if r.status == "transcribed")
    skipped = ", ".join(f"{reason}: {n}" for reason, n in sorted(report.skipped.items()))
    print(f"{done} transcribed, {sum(report.skipped.values())} skipped{f' ({skipped})' if skipped else ''}; "
          f"backend {backend.name}, real-time factor {report.real_time_factor:.3f}")
    return 1 if report.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
