"""Labels carry Whisper's decoder prompt once, never a doubled start token."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from whisper_exp.data.collate import LABEL_PAD, pad_labels
from whisper_exp.families.whisper_labels import WhisperLabeller


def test_english_only_labels(tiny_en_processor: WhisperProcessor) -> None:
    tok = tiny_en_processor.tokenizer
    labeller = WhisperLabeller(tok, english_only=True, language="english", task="transcribe")
    ids = labeller("  Take the MRT   to Tampines. ")
    sot, notimestamps = tok.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
    assert ids[0] == notimestamps and sot not in ids
    assert ids[-1] == tok.eos_token_id
    assert tok.decode(ids[1:-1]) == " Take the MRT to Tampines."
    no_space = WhisperLabeller(tok, english_only=True, language=None, task=None, leading_space=False)
    assert tok.decode(no_space("hello")[1:-1]) == "hello"


def test_multilingual_labels_have_language_and_task(tiny_en_processor: WhisperProcessor) -> None:
    # The tiny.en tokenizer holds every special token, which is enough to check the prompt layout.
    tok = tiny_en_processor.tokenizer
    labeller = WhisperLabeller(tok, english_only=False, language="greek", task="transcribe")
    ids = labeller("καλημέρα")
    assert tok.convert_ids_to_tokens(ids[:3]) == ["<|el|>", "<|transcribe|>", "<|notimestamps|>"]
    with pytest.raises(ValueError, match="model.language"):
        WhisperLabeller(tok, english_only=False, language=None, task="transcribe")


def test_model_prepends_start_token_exactly_once(random_whisper_dir: Path, tiny_en_processor) -> None:
    model = WhisperForConditionalGeneration.from_pretrained(random_whisper_dir)
    labeller = WhisperLabeller(tiny_en_processor.tokenizer, english_only=True, language=None, task=None)
    labels = pad_labels([labeller("one two"), labeller("three")])
    assert (labels == LABEL_PAD).sum() > 0
    captured = {}
    hook = model.model.decoder.register_forward_pre_hook(
        lambda module, args, kwargs: captured.update(ids=kwargs["input_ids"]), with_kwargs=True)
    model(input_features=torch.zeros(2, 80, 3000), labels=labels)
    hook.remove()
    sot = model.config.decoder_start_token_id
    assert captured["ids"][:, 0].tolist() == [sot, sot]
    assert (captured["ids"][:, 1] != sot).all()
