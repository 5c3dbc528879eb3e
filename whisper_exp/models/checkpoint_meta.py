"""CheckpointMeta: what every run checkpoint records beside its weights, so that it can be evaluated alone.

Stored under the key "whisper_exp" of Lightning's checkpoint dict (written by tasks.base.ASRTask,
read by the loaders): where the base weights came from, the LoRA settings that rebuild and merge its
adapters, and the family's own entries (e.g. the CTC vocabulary its head was sized to), kept flat so
that checkpoints written before this type read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Key under which a run's Lightning checkpoints hold their CheckpointMeta.
CHECKPOINT_META_KEY = "whisper_exp"
_COMMON = ("base_weights", "model_source", "lora")


@dataclass
class CheckpointMeta:
    """The metadata of one run's checkpoints (see module doc)."""

    # Hub id or folder of the base weights the fine-tuned weights sit on.
    base_weights: str | None = None
    # Human-readable origin of the weights (summary.json `model_source`).
    model_source: str | None = None
    # finetune.lora settings (finetune.lora.settings_record) when the run trained LoRA adapters.
    lora: dict[str, Any] | None = None
    # The family's own entries (e.g. {"ctc_vocab": {...}}).
    family: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The stored form: the common keys and the family's, side by side."""
        stored: dict[str, Any] = {"base_weights": self.base_weights, "model_source": self.model_source}
        if self.lora is not None:
            stored["lora"] = self.lora
        return {**stored, **self.family}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> CheckpointMeta:
        """The metadata of a loaded Lightning checkpoint (empty when it has none)."""
        stored = dict(checkpoint.get(CHECKPOINT_META_KEY) or {})
        return cls(base_weights=stored.get("base_weights"), model_source=stored.get("model_source"),
                   lora=stored.get("lora"), family={k: v for k, v in stored.items() if k not in _COMMON})

    def write(self, checkpoint: dict[str, Any]) -> None:
        """Store into a Lightning checkpoint dict (on_save_checkpoint)."""
        checkpoint[CHECKPOINT_META_KEY] = self.as_dict()
