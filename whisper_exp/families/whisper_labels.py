"""Transcript → Whisper label ids, with the decoder prompt Whisper expects.

Layout of one label sequence (start-of-transcript is NOT included: the model prepends it as
decoder_start_token_id when it shifts labels right, so including it would double it):

    [<|lang|> <|task|>]  <|notimestamps|>  " text tokens"  <|endoftext|>

Language and task tokens only for multilingual checkpoints. We train with these prompt
tokens in the labels and no forced decoder ids; evaluation sets language/task on the
generation config instead.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase


class WhisperLabeller:
    """Callable text → label ids for one tokenizer, language and task."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        english_only: bool,
        language: str | None,
        task: str | None,
        leading_space: bool = True,
    ) -> None:
        if english_only:
            language, task = None, None  # .en checkpoints have no language/task tokens
        elif language is None:
            raise ValueError("model.language must be set for a multilingual checkpoint (e.g. model.language=greek)")
        tokenizer.set_prefix_tokens(language=language, task=task, predict_timestamps=False)
        prefix = list(tokenizer.prefix_tokens)
        start = tokenizer.convert_tokens_to_ids("<|startoftranscript|>")
        if not prefix or prefix[0] != start:
            raise ValueError(f"unexpected Whisper prefix tokens {prefix}: expected start-of-transcript first")
        self.tokenizer = tokenizer
        self.prompt = prefix[1:]
        self.eos = tokenizer.eos_token_id
        self.leading_space = leading_space

    def __call__(self, text: str) -> list[int]:
        body = " ".join(text.split())
        if self.leading_space:
            body = " " + body
        return [*self.prompt, *self.tokenizer.encode(body, add_special_tokens=False), self.eos]
