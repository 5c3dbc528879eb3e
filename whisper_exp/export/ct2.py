"""Export a Hugging Face Whisper folder to CTranslate2 (faster-whisper / WhisperX) with ctranslate2's converter.

The conversion itself is ctranslate2's (`TransformersConverter`); this module adds what faster-whisper needs
next to `model.bin` so that `faster_whisper.WhisperModel(dir)` loads it with no manual step (faster-whisper
#30, #220): `tokenizer.json` and `preprocessor_config.json` (mel bins, chunk length of the source's feature
extractor; transformers ≥ 5 folders keep it inside processor_config.json, which faster-whisper does not read).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from transformers import WhisperFeatureExtractor

log = logging.getLogger(__name__)

CT2_QUANTIZATIONS = ("float32", "float16", "bfloat16", "int8", "int8_float32", "int8_float16", "int8_bfloat16",
                     "int16")
TOKENIZER_FILE = "tokenizer.json"
PREPROCESSOR_FILE = "preprocessor_config.json"


class Ct2ExportError(RuntimeError):
    """CTranslate2 conversion failed or its dependencies are missing."""


def export_ct2(hf_dir: Path, out_dir: Path, quantization: str = "float32") -> Path:
    """Convert the transformers Whisper in `hf_dir` into a CTranslate2 folder `out_dir` (replaced if present)."""
    if quantization not in CT2_QUANTIZATIONS:
        raise Ct2ExportError(f"CTranslate2 quantization {quantization!r}: choose one of {CT2_QUANTIZATIONS}")
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as err:
        raise Ct2ExportError("CTranslate2 export needs ctranslate2: pip install 'whisper_exp[deploy]'") from err
    if not (hf_dir / TOKENIZER_FILE).is_file():
        raise Ct2ExportError(f"{hf_dir} has no {TOKENIZER_FILE}; faster-whisper could not decode its output")
    converter = TransformersConverter(str(hf_dir), copy_files=[TOKENIZER_FILE])
    converter.convert(str(out_dir), quantization=quantization, force=True)
    preprocessor = hf_dir / PREPROCESSOR_FILE
    if preprocessor.is_file():
        shutil.copy(preprocessor, out_dir / PREPROCESSOR_FILE)
    else:
        WhisperFeatureExtractor.from_pretrained(hf_dir).to_json_file(out_dir / PREPROCESSOR_FILE)
    log.info("wrote CTranslate2 model %s (%s)", out_dir, quantization)
    return out_dir
