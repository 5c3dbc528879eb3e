"""`python -m whisper_exp.export SOURCE --to hf,ct2,ggml [--quantization float32,int8] [--verify] [--card]`

SOURCE: a run dir, a run's .ckpt (LoRA adapters merged), an hf_model/ or any Whisper folder, a CTranslate2
folder. Writes under the run dir (or --out): hf_model/, ct2_model[_<quantization>]/, ggml-model.bin and
export_report.json (parity of each export with the transformers model). `--verify` checks the exports already
in --out (or the run dir) against SOURCE without writing any. Exit status 1, with the differing clips named,
when parity is below the threshold.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from transformers.utils import logging as transformers_logging

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ExportParityConfig
from whisper_exp.export import (
    CT2_DIRNAME,
    GGML_FILENAME,
    HF_DIRNAME,
    ExportPlan,
    export_all,
    verify_exports,
)
from whisper_exp.export.card import write_card
from whisper_exp.export.ggml import ggml_ftype
from whisper_exp.export.parity import ParityError
from whisper_exp.export.source import SUMMARY_FILE, SourceError, resolve_source

DEFAULT_CACHE = Path.home() / ".cache" / "whisper_exp"


def _parser() -> argparse.ArgumentParser:
    defaults = typed_defaults(ExportParityConfig)
    parser = argparse.ArgumentParser(prog="python -m whisper_exp.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("--to", default="hf,ct2,ggml", help="comma-separated formats: hf, ct2, ggml")
    parser.add_argument("--quantization", default="float32",
                        help="CTranslate2 quantization(s), comma-separated: float32, int8, int8_float32, float16 …")
    parser.add_argument("--ggml-ftype", default="float16", choices=["float16", "float32"])
    parser.add_argument("--out", type=Path, help="output folder (default: the run dir of SOURCE, else SOURCE_export)")
    parser.add_argument("--no-verify", action="store_true", help="skip the parity check (not recommended)")
    parser.add_argument("--verify", "--verify-only", dest="verify_only", action="store_true",
                        help="do not export: check the exports already in --out (or the run dir) against SOURCE")
    parser.add_argument("--card", action="store_true", help="(re)write hf_model/README.md from the run's summary.json")
    parser.add_argument("--parity-data", type=Path, help="audiofolder for the parity check (default: demo_sg)")
    parser.add_argument("--parity-split", default=defaults.split)
    parser.add_argument("--parity-clips", type=int, default=defaults.clips)
    parser.add_argument("--threshold", type=float, default=defaults.threshold,
                        help="minimum identical-transcript fraction, float32 exports")
    parser.add_argument("--threshold-quantized", type=float, default=defaults.threshold_quantized,
                        help="the same for int8 / float16 exports")
    parser.add_argument("--max-wer-increase", type=float, default=defaults.max_wer_increase,
                        help="largest allowed WER(export) - WER(transformers), absolute")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per backend (0: its default)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    return parser


def _existing_exports(out: Path, formats: list[str]) -> list[dict]:
    found = []
    if "ct2" in formats:
        found += [{"format": "ct2", "quantization": d.name.removeprefix(f"{CT2_DIRNAME}_") if d.name != CT2_DIRNAME
                   else "float32", "path": str(d)}
                  for d in sorted(out.glob(f"{CT2_DIRNAME}*")) if (d / "model.bin").is_file()]
    if "ggml" in formats and (out / GGML_FILENAME).is_file():
        path = out / GGML_FILENAME
        found.append({"format": "ggml", "quantization": ggml_ftype(path), "path": str(path)})
    return found


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    transformers_logging.set_verbosity_error()  # its generate() warns about its own defaults on every call
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one line per clip otherwise
    formats = [f.strip() for f in args.to.split(",") if f.strip()]
    parity = typed_defaults(ExportParityConfig, data_dir=str(args.parity_data) if args.parity_data else None,
                            split=args.parity_split, clips=args.parity_clips, threshold=args.threshold,
                            threshold_quantized=args.threshold_quantized, max_wer_increase=args.max_wer_increase)
    plan = ExportPlan(formats=formats, quantizations=[q.strip() for q in args.quantization.split(",")],
                      ggml_ftype=args.ggml_ftype, parity=parity, verify=not args.no_verify, threads=args.threads)
    try:
        source_path = args.source.expanduser()
        default_out = source_path.parent / f"{source_path.name}_export"
        resolved = resolve_source(source_path, args.out or default_out, args.cache_dir)
        out = args.out or resolved.run_dir or default_out
        print(f"exporting {resolved.description}")
        if args.verify_only:
            exports = _existing_exports(out, formats)
            if not exports:
                print(f"error: no {', '.join(formats)} exports in {out} to verify", file=sys.stderr)
                return 2
            report = verify_exports(resolved.hf_dir, out, exports, plan)
        else:
            report = export_all(resolved.hf_dir, out, plan)
        if args.card:
            summary_path = (resolved.run_dir or out) / SUMMARY_FILE
            summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
            card_dir = out / HF_DIRNAME if (out / HF_DIRNAME).is_dir() else resolved.hf_dir
            print(f"model card: {write_card(card_dir, summary, report)}")
    except (SourceError, ParityError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for entry in report["exports"]:
        parity_info = entry.get("parity")
        line = f"{entry['format']:5s} {entry.get('quantization', ''):8s} {entry['path']}"
        if parity_info:
            ours, theirs = parity_info["exported"], parity_info["reference"]
            line += (f"  identical {parity_info['identical_fraction']:.1%}  WER {ours['wer']:.4f} "
                     f"(transformers {theirs['wer']:.4f})  RTF {ours['real_time_factor']:.3f}")
        print(line)
    print(f"report: {out / 'export_report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
