"""CTC text side: transcript normalisation, the character vocabulary, and text → label ids.

A CTC head predicts one character (or blank) per frame, so its vocabulary is the set of
characters of the (normalised) training transcripts, plus a word delimiter standing for the space
(``|``), an unknown token and the pad token (which the CTC loss uses as its blank). The
vocabulary lives in a transformers ``Wav2Vec2CTCTokenizer``, saved with the exported model, so
the model decodes on its own (``transformers.pipeline``).

Normalisation (``model.ctc.vocab``): optional lower-casing, a character map (curly apostrophes → ',
dashes → space), then characters dropped (punctuation), whitespace collapsed. Apostrophes are kept by
default (``don't``). A transcript left with no in-vocabulary character gets no labels: the
pipeline drops and counts it ("no label tokens").
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from transformers import Wav2Vec2CTCTokenizer


@dataclass
class CtcVocabConfig:
    """`model.ctc.vocab`: the character vocabulary and the text normalisation applied before labelling (values and
    their documentation: conf/model/_ctc.yaml)."""

    # Lower-case transcripts (the vocabulary then has no upper-case letters).
    lowercase: bool
    # Characters replaced before labelling (curly apostrophes → ', dashes → space, …).
    char_map: dict[str, str]
    # Characters dropped before labelling (punctuation); apostrophes stay unless listed here.
    remove_chars: str
    word_delimiter: str
    unk_token: str
    pad_token: str
    # A fixed character set (word delimiter, unk and pad are added); null: built from the training transcripts.
    chars: list[str] | None


class CtcTextNormaliser:
    """Transcript → the text the CTC head is trained to spell (see module doc)."""

    def __init__(self, cfg: CtcVocabConfig) -> None:
        self.lowercase = cfg.lowercase
        for source in cfg.char_map:
            if len(source) != 1:
                raise ValueError(f"model.ctc.vocab.char_map keys must be single characters, got {source!r}")
        self.mapping = str.maketrans(dict(cfg.char_map))
        self.removal = str.maketrans(dict.fromkeys(cfg.remove_chars))

    def __call__(self, text: str) -> str:
        text = text.lower() if self.lowercase else text
        # Map first, then drop: a character dropped stays dropped whatever maps onto it.
        return " ".join(text.translate(self.mapping).translate(self.removal).split())


def build_vocabulary(texts: Iterable[str], cfg: CtcVocabConfig) -> dict[str, int]:
    """Character → id for the normalised `texts` (or `cfg.chars`), then word delimiter, unk and pad.

    Ids are stable for a given character set: characters sorted, the special tokens last.
    """
    normalise = CtcTextNormaliser(cfg)
    if cfg.chars is not None:
        chars = {str(char) for char in cfg.chars}
        if any(len(char) != 1 for char in chars):
            raise ValueError(f"model.ctc.vocab.chars must be single characters, got {sorted(chars)}")
    else:
        chars = {char for text in texts for char in normalise(text or "")}
    specials = (cfg.word_delimiter, cfg.unk_token, cfg.pad_token)
    clash = sorted(chars & set(specials))
    if clash:
        raise ValueError(f"transcripts contain the special token(s) {clash}: add them to model.ctc.vocab.remove_chars "
                         "or choose another model.ctc.vocab.word_delimiter")
    chars.discard(" ")
    if not chars:
        raise ValueError("the training transcripts have no characters left after normalisation "
                         "(model.ctc.vocab.remove_chars / char_map): nothing to build a CTC vocabulary from")
    vocab = {char: index for index, char in enumerate(sorted(chars))}
    for token in specials:
        vocab[token] = len(vocab)
    return vocab


def build_tokenizer(vocab: dict[str, int], cfg: CtcVocabConfig) -> Wav2Vec2CTCTokenizer:
    """A Wav2Vec2CTCTokenizer over `vocab` (written to a temporary vocab.json, read back in)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vocab.json"
        path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        # No bos/eos: CTC emits none, and they would be ids beyond the head's size.
        return Wav2Vec2CTCTokenizer(str(path), unk_token=cfg.unk_token, pad_token=cfg.pad_token,
                                    word_delimiter_token=cfg.word_delimiter, do_lower_case=False,
                                    bos_token=None, eos_token=None)


class CtcLabeller:
    """Callable text → CTC label ids: normalised, spaces as the word delimiter, unknown characters as unk.

    Returns [] when nothing of the text is in the vocabulary (empty after normalisation, or only
    unknown characters): the pipeline then drops and counts the sample.
    """

    def __init__(self, tokenizer: Wav2Vec2CTCTokenizer, cfg: CtcVocabConfig) -> None:
        self.tokenizer = tokenizer
        self.normalise = CtcTextNormaliser(cfg)
        self.unk = tokenizer.unk_token_id

    def __call__(self, text: str) -> list[int]:
        normalised = self.normalise(text)
        if not normalised:
            return []
        ids = list(self.tokenizer(normalised, add_special_tokens=False).input_ids)
        delimiter = self.tokenizer.word_delimiter_token_id
        if all(i in (self.unk, delimiter) for i in ids):
            return []
        return ids
