"""Transcript → Whisper label ids, with the decoder prompt Whisper expects.

Layout of one label sequence (start-of-transcript is NOT included: the model prepends it as
decoder_start_token_id when it shifts labels right, so including it would double it):

    [<|lang|> <|task|>]  <|notimestamps|>  " text tokens"  <|endoftext|>

Language and task tokens only for multilingual checkpoints. We train with these prompt
tokens in the labels and no forced decoder ids; evaluation sets language/task on the
generation config instead.

With timestamps (`timed`, data.timestamps), <|notimestamps|> is left out and each segment is wrapped in its
start and end times, as Whisper was pretrained:

    [<|lang|> <|task|>]  <|0.00|> " text" <|3.42|>  <|3.64|> " next" <|6.10|>  <|endoftext|>

A time token is `<|0.00|>` + round(seconds / 0.02): Whisper's grid, 0.00 … 30.00 s.
"""

from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from whisper_exp.data.timestamps import TimedText

# Whisper's timestamp grid (seconds per time token) and the last time token (its 30-s window).
TIME_PRECISION = 0.02
LAST_TIME_S = 30.0
# Stored log-mels keep the frames whose window touches the audio (data.features): up to ~0.03 s past its end.
WINDOW_SLACK_S = 0.05


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
        no_timestamps = tokenizer.convert_tokens_to_ids("<|notimestamps|>")
        self.timed_prompt = [token for token in self.prompt if token != no_timestamps]
        self.first_time_token = tokenizer.convert_tokens_to_ids("<|0.00|>")
        self.eos = tokenizer.eos_token_id
        self.leading_space = leading_space

    def _text_ids(self, text: str) -> list[int]:
        body = " ".join(text.split())
        if self.leading_space:
            body = " " + body
        return self.tokenizer.encode(body, add_special_tokens=False)

    def __call__(self, text: str) -> list[int]:
        return [*self.prompt, *self._text_ids(text), self.eos]

    def time_token(self, seconds: float) -> int:
        """The time token nearest to `seconds` on Whisper's 0.02-s grid; the stored frames of a full 30-s window
        reach a frame or two past 30 s, which is 30.00 (ValueError further outside 0–30 s)."""
        if not 0.0 <= seconds <= LAST_TIME_S + WINDOW_SLACK_S:
            raise ValueError(f"time {seconds:.3f} s is outside Whisper's 0–{LAST_TIME_S:g} s window")
        return self.first_time_token + round(min(seconds, LAST_TIME_S) / TIME_PRECISION)

    def timed(self, segments: Sequence[TimedText]) -> list[int]:
        """Label ids with timestamp tokens: each segment as <|start|> text <|end|>, in the order given."""
        body: list[int] = []
        for segment in segments:
            body += [self.time_token(segment.start), *self._text_ids(segment.text), self.time_token(segment.end)]
        return [*self.timed_prompt, *body, self.eos]
