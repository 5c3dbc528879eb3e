"""Export a trained model as a Hugging Face folder that `transformers.pipeline` loads as-is."""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import PreTrainedModel, ProcessorMixin

log = logging.getLogger(__name__)


def export_pretrained(model: PreTrainedModel, processor: ProcessorMixin, directory: Path) -> Path:
    """save_pretrained (safetensors + generation config) and the processor into `directory`.

    Whisper: WhisperProcessor; CTC models: Wav2Vec2Processor (feature extractor + the run's character vocabulary).
    """
    directory.mkdir(parents=True, exist_ok=True)
    if not hasattr(model.config, "use_cache"):  # CTC models have no KV cache
        model.save_pretrained(directory)
    else:
        use_cache = model.config.use_cache
        model.config.use_cache = True  # inference default, whatever training used
        try:
            model.save_pretrained(directory)
        finally:
            model.config.use_cache = use_cache
    processor.save_pretrained(directory)
    log.info("exported Hugging Face model to %s", directory)
    return directory
