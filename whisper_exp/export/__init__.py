"""From a checkpoint to deployable models: transformers folder, CTranslate2 (faster-whisper), whisper.cpp (ggml),
each checked against the transformers model after export (export_report.json), and a model card.

`export_all` is what both the command line (`python -m whisper_exp.export`) and a training run
(`export.formats=[hf, ct2, ggml]`, `after_training`) call.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import ExportConfig, ExportParityConfig
from whisper_exp.export.card import check_can_push, push_folder, write_card
from whisper_exp.export.ct2 import export_ct2
from whisper_exp.export.ggml import GGML_FILENAME, write_ggml
from whisper_exp.export.parity import check_parity, load_clips, parity_failure
from whisper_exp.metrics.wer import Normaliser

log = logging.getLogger(__name__)

REPORT_FILE = "export_report.json"
HF_DIRNAME = "hf_model"
CT2_DIRNAME = "ct2_model"
DEMO_DATA = Path(__file__).resolve().parents[1] / "data" / "demo_sg"
# whisper.cpp in pywhispercpp 1.5.1 aborts the process (GGML_ASSERT, ggml-cpu ops.cpp) when it runs the float32
# convolution kernels of a float32 file, so such a file is written but not run here.
GGML_UNVERIFIABLE_FTYPES = ("float32",)


@dataclass
class ExportPlan:
    """What to export and how to check it."""

    formats: list[str]
    quantizations: list[str] = field(default_factory=lambda: ["float32"])
    ggml_ftype: str = "float16"
    parity: ExportParityConfig = field(default_factory=lambda: typed_defaults(ExportParityConfig))
    verify: bool = True
    threads: int = 0

    @classmethod
    def from_config(cls, export: ExportConfig) -> ExportPlan:
        """The plan a training run's `export` group describes."""
        return cls(formats=list(export.formats), quantizations=[export.quantization], ggml_ftype=export.ggml_ftype,
                   parity=export.parity, verify=export.parity.enabled)


def ct2_dirname(quantization: str) -> str:
    """ct2_model for float32, ct2_model_<quantization> otherwise (several can sit side by side)."""
    return CT2_DIRNAME if quantization == "float32" else f"{CT2_DIRNAME}_{quantization}"


def parity_normaliser(hf_dir: Path) -> Normaliser:
    """Whisper's English normaliser for English models, its basic one otherwise (as evaluation uses)."""
    from transformers import WhisperTokenizer

    from whisper_exp.metrics.wer import build_normaliser

    config = json.loads((hf_dir / "generation_config.json").read_text()) if (
        hf_dir / "generation_config.json").is_file() else {}
    english = not config.get("is_multilingual", True) or str(config.get("language", "")).lower() in ("en", "english")
    spelling = getattr(WhisperTokenizer.from_pretrained(hf_dir), "english_spelling_normalizer", None)
    return build_normaliser("english" if english else "basic", spelling)


class _Verifier:
    """Runs the parity checks of one export; the transformers side is transcribed once and reused."""

    def __init__(self, hf_dir: Path, parity: ExportParityConfig, threads: int) -> None:
        from whisper_exp.transcribe.backends import DecodeOptions, HfBackend

        data_dir = Path(parity.data_dir) if parity.data_dir else DEMO_DATA
        self.clips = load_clips(data_dir, parity.split, parity.clips)
        self.reference = HfBackend(hf_dir, threads=threads)
        self.normaliser = parity_normaliser(hf_dir)
        self.options = DecodeOptions(max_new_tokens=parity.max_new_tokens, threads=threads)
        self.parity, self.threads = parity, threads
        self.reference_texts: tuple[list[str], float] | None = None

    def check(self, fmt: str, path: Path, quantization: str) -> dict[str, Any]:
        from whisper_exp.export.parity import transcribe_all
        from whisper_exp.transcribe.backends import load_backend

        if self.reference_texts is None:
            self.reference_texts = transcribe_all(self.reference, self.clips, self.options)
        exported = load_backend(path, fmt, threads=self.threads)
        return check_parity(self.reference, exported, self.clips, self.normaliser, fmt=fmt, path=str(path),
                            threshold=self.parity.threshold if quantization == "float32"
                            else self.parity.threshold_quantized, max_wer_increase=self.parity.max_wer_increase,
                            options=self.options,
                            encoder_clips=self.parity.encoder_clips, reference_texts=self.reference_texts).as_dict()


def export_all(hf_dir: Path, out_dir: Path, plan: ExportPlan) -> dict[str, Any]:
    """Export the transformers folder `hf_dir` to every format of `plan` under `out_dir`, check each against
    `hf_dir`, write out_dir/export_report.json and return it. Raises ParityError (after writing the report)
    when an export falls below the parity threshold."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exports: list[dict[str, Any]] = []
    for fmt in plan.formats:
        if fmt == "hf":
            target = out_dir / HF_DIRNAME
            if target.resolve() != hf_dir.resolve():
                shutil.copytree(hf_dir, target, dirs_exist_ok=True)
            exports.append({"format": "hf", "path": str(target)})
        elif fmt == "ct2":
            for q in plan.quantizations:
                path = export_ct2(hf_dir, out_dir / ct2_dirname(q), q)
                exports.append({"format": "ct2", "quantization": q, "path": str(path)})
        elif fmt == "ggml":
            path = write_ggml(hf_dir, out_dir / GGML_FILENAME, plan.ggml_ftype)
            exports.append({"format": "ggml", "quantization": plan.ggml_ftype, "path": str(path)})
        else:
            raise ValueError(f"unknown export format {fmt!r}; choose from hf, ct2, ggml")
    return verify_exports(hf_dir, out_dir, exports, plan)


def verify_exports(hf_dir: Path, out_dir: Path, exports: list[dict[str, Any]], plan: ExportPlan) -> dict[str, Any]:
    """Parity of each non-hf export with `hf_dir`; writes and returns the report (see export_all)."""
    failures = []
    to_check = [e for e in exports if e["format"] != "hf"] if plan.verify else []
    verifier = _Verifier(hf_dir, plan.parity, plan.threads) if to_check else None
    for entry in to_check:
        if entry["format"] == "ggml" and entry.get("quantization") in GGML_UNVERIFIABLE_FTYPES:
            entry["parity"] = None
            entry["note"] = "not verified: whisper.cpp (pywhispercpp 1.5.1) aborts on float32 convolution kernels"
            log.warning("%s: %s", entry["path"], entry["note"])
            continue
        entry["parity"] = verifier.check(  # type: ignore[union-attr]
            entry["format"], Path(entry["path"]), entry.get("quantization", "float32"))
        if not entry["parity"]["passed"]:
            failures.append(entry["parity"])
    report = {"source": str(hf_dir), "exports": exports}
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=2))
    log.info("export report: %s", out_dir / REPORT_FILE)
    if failures:
        from whisper_exp.export.parity import ParityReport, SideStats

        first = dict(failures[0])
        first["reference"], first["exported"] = SideStats(**first["reference"]), SideStats(**first["exported"])
        raise parity_failure(ParityReport(**first))
    return report


def after_training(export: ExportConfig, run_dir: Path, hf_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """A training run's deployable exports, model card and Hub push (run.py calls this after hf_model/).

    Returns the summary keys it adds. The push precondition (token, network) is checked before anything is
    written, so an offline push fails at once and changes nothing.
    """
    token = check_can_push() if export.push_to_hub else None
    added: dict[str, Any] = {}
    report = None
    extra = [f for f in export.formats if f != "hf"]
    if extra:
        report = export_all(hf_dir, run_dir, ExportPlan.from_config(export))
        added["export_report"] = str(run_dir / REPORT_FILE)
    if export.card:
        added["model_card"] = str(write_card(hf_dir, summary, report))
    if export.push_to_hub and token:
        added["pushed_to"] = push_folder(hf_dir, export.push_to_hub, token)
    return added
