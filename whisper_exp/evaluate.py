"""`python -m whisper_exp.evaluate [overrides] model.checkpoint=PATH`: evaluation only.

PATH may be a run's Lightning checkpoint (.ckpt), its exported Hugging Face folder, any local
Whisper folder or a CTranslate2 folder; without model.checkpoint the zero-shot model is scored.
CTC models (model=wavlm_large_ctc …): a run's .ckpt (it records its vocabulary) or exported hf_model/
(with its tokenizer); a pretrained-only checkpoint has a random head, so its zero-shot WER means nothing.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from whisper_exp.__main__ import CONFIG_DIR


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Hydra entry point for evaluation."""
    from whisper_exp.run import run_evaluation
    from whisper_exp.training.signals import RunInterrupted, interrupt_exit, stop_on_signals

    try:
        with stop_on_signals():
            run_evaluation(cfg)
    except (RunInterrupted, KeyboardInterrupt) as stopped:
        interrupt_exit(stopped)


if __name__ == "__main__":
    main()
