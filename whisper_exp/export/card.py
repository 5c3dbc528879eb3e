"""The Hugging Face model card (hf_model/README.md) of a run, and publishing the folder with huggingface_hub.

The card's YAML front matter follows the Hub's model-card metadata (base_model, language, datasets, license,
tags, pipeline_tag, model-index); its prose is generated from the run's summary.json: data, recipe,
precision, hardware, throughput, limitations. Numbers that are missing are written as "not measured",
never invented.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

CARD_FILE = "README.md"
DEFAULT_LICENSE = "apache-2.0"  # OpenAI's Whisper checkpoints on the Hub are Apache-2.0
HUB_HOST = "huggingface.co"
HUB_CONNECT_TIMEOUT_S = 3.0
# Data groups known to be synthetic speech: the card says so under Limitations.
SYNTHETIC_DATA = {"demo_sg": "synthetic speech (espeak-ng voices) generated for the embedded demo corpus"}


class PushError(RuntimeError):
    """Publishing to the Hub is impossible right now (no token, offline); nothing was changed."""


def _get(mapping: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if not isinstance(mapping, dict) or key not in mapping:
            return default
        mapping = mapping[key]
    return mapping


def _metric(name: str, value: float | None, label: str) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"type": "wer", "value": round(100 * float(value), 2), "name": f"{label} ({name})"}


def card_metadata(summary: dict[str, Any]) -> dict[str, Any]:
    """The card's front matter from a run summary (summary.json)."""
    config = summary.get("config", {})
    model, data = config.get("model", {}), config.get("data", {})
    language = model.get("language") or ("en" if model.get("english_only") else None)
    data_name = summary.get("data") or data.get("name") or "unknown"
    datasets = sorted({str(s.get("path")) for s in data.get("sources", {}).values()
                       if isinstance(s, dict) and s.get("kind") == "hub" and s.get("path")}) or [data_name]
    dataset = {"name": data_name, "type": datasets[0]}
    results = []
    val = [m for m in (_metric("validation", summary.get("baseline_wer"), "zero-shot WER"),
                       _metric("validation", summary.get("best_val_wer"), "fine-tuned WER")) if m]
    if val:
        results.append({"task": {"type": "automatic-speech-recognition", "name": "Speech Recognition"},
                        "dataset": {**dataset, "split": "validation"}, "metrics": val})
    test = [m for m in (_metric("test", summary.get("zero_shot_test_wer"), "zero-shot WER"),
                        _metric("test", summary.get("wer"), "fine-tuned WER")) if m]
    if test:
        results.append({"task": {"type": "automatic-speech-recognition", "name": "Speech Recognition"},
                        "dataset": {**dataset, "split": "test"}, "metrics": test})
    name = Path(str(summary.get("run_dir") or "whisper_exp-model")).name
    meta: dict[str, Any] = {
        "base_model": model.get("hub_id") or summary.get("model"),
        "language": [language] if language else [],
        "datasets": datasets,
        "license": DEFAULT_LICENSE,
        "library_name": "transformers",
        "pipeline_tag": "automatic-speech-recognition",
        "tags": sorted({str(model.get("family") or "whisper"), "whisper_exp", "automatic-speech-recognition",
                        str(summary.get("finetune_mode") or summary.get("finetune") or "fine-tuned")}),
        "model-index": [{"name": name, "results": results}],
    }
    return meta


def _fmt(value: Any, pattern: str = "{:.2f}", missing: str = "not measured") -> str:
    return missing if value is None else pattern.format(value)


def card_text(summary: dict[str, Any], export_report: dict[str, Any] | None = None) -> str:
    """The whole README.md: front matter + prose."""
    meta = card_metadata(summary)
    config = summary.get("config", {})
    env = summary.get("environment", {})
    data_name = str(summary.get("data") or _get(config, "data", "name") or "unknown")
    hardware = env.get("cuda") or f"CPU ({env.get('cpu_count', '?')} cores, {env.get('torch_threads', '?')} threads)"
    wer = lambda key: _fmt(summary.get(key), "{:.2%}")  # noqa: E731
    lines = [
        "---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", "",
        f"# {meta['model-index'][0]['name']}", "",
        f"Fine-tuned from `{meta['base_model']}` with whisper_exp "
        f"(finetune preset `{summary.get('finetune', '?')}`, mode {summary.get('finetune_mode', '?')}).", "",
        "## Results", "",
        "| split | zero-shot WER | fine-tuned WER |", "|---|---|---|",
        f"| validation | {wer('baseline_wer')} | {wer('best_val_wer')} |",
        f"| test | {wer('zero_shot_test_wer')} | {wer('wer')} |", "",
        "## Data", "",
        f"Data group `{data_name}`: {summary.get('train_samples', 'unknown')} training clips; "
        f"{summary.get('test_utterances', 'unknown')} test clips.", "",
        "## Training recipe", "",
        f"- learning rate {summary.get('lr', '?')} ({_get(config, 'optimizer', 'lr_source', default='')}), "
        f"{summary.get('global_steps', '?')} optimizer steps, seed {summary.get('seed', '?')}",
        f"- trainable parameters: {summary.get('trainable_params', '?')} of {summary.get('total_params', '?')}",
        f"- precision: {summary.get('precision', '?')}", f"- hardware: {hardware}, torch {env.get('torch', '?')}", "",
        "## Throughput", "",
        f"- training: {_fmt(summary.get('train_samples_per_s'))} clips/s, "
        f"{_fmt(summary.get('train_audio_s_per_s'))} audio seconds per second",
    ]
    for fmt in (export_report or {}).get("exports", []):
        parity = fmt.get("parity") or {}
        exported = parity.get("exported") or {}
        if exported:
            lines.append(f"- inference `{fmt['format']}` ({fmt.get('quantization', '')}): "
                         f"{exported['clips_per_s']:.2f} clips/s, real-time factor {exported['real_time_factor']:.3f}; "
                         f"{parity['identical_fraction']:.1%} transcripts identical to transformers")
    lines += ["", "## Limitations", ""]
    synthetic = SYNTHETIC_DATA.get(data_name)
    if synthetic:
        lines.append(f"- Trained and evaluated on {synthetic}: these WERs say nothing about real speech.")
    lines += [
        "- Fine-tuned without timestamp tokens unless the data says otherwise: long-form (> 30 s) transcription, "
        "which seeks by predicted timestamps, may degrade; check on your own long recordings.",
        "- Whisper can hallucinate on silence and noise; evaluate on audio like yours before deploying.", "",
    ]
    return "\n".join(lines)


def write_card(hf_dir: Path, summary: dict[str, Any], export_report: dict[str, Any] | None = None) -> Path:
    """Write `hf_dir`/README.md."""
    path = hf_dir / CARD_FILE
    path.write_text(card_text(summary, export_report), encoding="utf-8")
    log.info("model card: %s", path)
    return path


def check_can_push() -> str:
    """The Hub token, after checking that a push can work now; PushError (changing nothing) otherwise."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise PushError("export.push_to_hub: HF_HUB_OFFLINE is set; nothing was exported or pushed")
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise PushError("export.push_to_hub: no Hugging Face token (run `hf auth login` or set HF_TOKEN); "
                        "nothing was exported or pushed")
    try:
        socket.create_connection((HUB_HOST, 443), timeout=HUB_CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise PushError(f"export.push_to_hub: cannot reach {HUB_HOST} ({err}); nothing was exported or pushed") from err
    return token


def push_folder(hf_dir: Path, repo_id: str, token: str) -> str:
    """Create `repo_id` (if needed) and upload `hf_dir` (weights, processor, card); returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, exist_ok=True)
    info = api.upload_folder(folder_path=str(hf_dir), repo_id=repo_id, commit_message="whisper_exp export")
    log.info("pushed %s to %s", hf_dir, repo_id)
    return str(getattr(info, "commit_url", info))
