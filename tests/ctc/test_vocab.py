"""CTC vocabulary and labels: case, apostrophes, punctuation, characters outside the vocabulary, empty text."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_audiofolder, write_tone
from ctc_defaults import vocab_config
from transformers import Wav2Vec2CTCTokenizer, WhisperFeatureExtractor

from whisper_exp.config.defaults import typed_defaults
from whisper_exp.config.schema import DataConfig, SourceConfig
from whisper_exp.data.errors import DropCounter
from whisper_exp.data.pipeline import build_split
from whisper_exp.families.ctc_vocab import (
    CtcLabeller,
    CtcTextNormaliser,
    CtcVocabConfig,
    build_tokenizer,
    build_vocabulary,
)

TRAIN = ["Don't play play lor!", "The MRT is late, LAH.", "Rock’n’roll at Marine-Parade"]


def _labeller(texts: list[str], cfg: CtcVocabConfig | None = None) -> tuple[CtcLabeller, dict[str, int]]:
    cfg = cfg or vocab_config()
    vocab = build_vocabulary(texts, cfg)
    return CtcLabeller(build_tokenizer(vocab, cfg), cfg), vocab


def test_vocabulary_is_the_normalised_training_characters_plus_specials() -> None:
    vocab = build_vocabulary(TRAIN, vocab_config())
    letters = set("dontplayorhemrtisaelckn") | {"'"}
    assert {token for token in vocab if len(token) == 1} - {"|"} == letters
    # Sorted characters, then word delimiter, unk, pad (the CTC blank) last.
    assert list(vocab)[-3:] == ["|", "[UNK]", "[PAD]"]
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert not set(",.!’-") & set(vocab)


def test_upper_and_lower_case() -> None:
    labeller, vocab = _labeller(TRAIN)
    assert labeller("LAH lah Lah") == labeller("lah lah lah")
    cased = vocab_config(lowercase=False)
    cased_vocab = build_vocabulary(TRAIN, cased)
    assert "M" in cased_vocab and "m" not in cased_vocab and "M" not in vocab and "m" in vocab
    cased_labeller = CtcLabeller(build_tokenizer(cased_vocab, cased), cased)
    assert cased_labeller("MRT") != cased_labeller("mrt")


def test_apostrophes_are_kept_and_curly_ones_unified() -> None:
    labeller, vocab = _labeller(TRAIN)
    tokenizer = labeller.tokenizer
    assert "'" in vocab and "’" not in vocab
    ids = labeller("don’t")
    assert ids == labeller("don't")
    assert tokenizer.convert_ids_to_tokens(ids) == ["d", "o", "n", "'", "t"]
    # Dropping apostrophes is a config choice.
    no_apostrophe = vocab_config(remove_chars=vocab_config().remove_chars + "'’")
    assert "'" not in build_vocabulary(TRAIN, no_apostrophe)


def test_words_are_separated_by_the_delimiter_and_decode_back() -> None:
    labeller, _ = _labeller(TRAIN)
    ids = labeller("  The   MRT,  late! ")
    tokens = labeller.tokenizer.convert_ids_to_tokens(ids)
    assert "".join(tokens) == "the|mrt|late"
    assert labeller.tokenizer.decode(ids) == "the mrt late"
    assert labeller("marine-parade") == labeller("marine parade")  # dashes become word breaks


def test_characters_outside_the_vocabulary_become_unk() -> None:
    labeller, vocab = _labeller(TRAIN)
    ids = labeller("play zoo")  # z is not in the training transcripts
    assert vocab["[UNK]"] in ids and ids.count(vocab["[UNK]"]) == 1
    assert labeller.tokenizer.convert_ids_to_tokens(ids)[:5] == ["p", "l", "a", "y", "|"]


def test_text_with_nothing_in_the_vocabulary_gets_no_labels() -> None:
    labeller, _ = _labeller(TRAIN)
    assert labeller("") == []
    assert labeller("?!… ,") == []  # empty after normalisation
    assert labeller("ζζζ ξξ") == []  # only unknown characters


def test_fixed_character_set_and_bad_vocabularies() -> None:
    fixed = vocab_config(chars=["a", "b", "'"])
    assert list(build_vocabulary(["ignored text"], fixed)) == ["'", "a", "b", "|", "[UNK]", "[PAD]"]
    with pytest.raises(ValueError, match="no characters left"):
        build_vocabulary(["?!", "", "..."], vocab_config())
    with pytest.raises(ValueError, match=r"special token.*\|"):
        build_vocabulary(["a|b"], vocab_config())
    with pytest.raises(ValueError, match="single characters"):
        CtcTextNormaliser(vocab_config(char_map={"ab": "c"}))


def test_tokenizer_round_trips_through_save_pretrained(tmp_path: Path) -> None:
    labeller, vocab = _labeller(TRAIN)
    labeller.tokenizer.save_pretrained(tmp_path)
    again = Wav2Vec2CTCTokenizer.from_pretrained(tmp_path)
    assert again.get_vocab() == vocab
    assert again.pad_token_id == vocab["[PAD]"] and again.word_delimiter_token == "|"


def test_pipeline_drops_and_counts_transcripts_without_vocabulary(tmp_path: Path) -> None:
    rows = []
    for i, text in enumerate(["lah lah", "?!", "ζζ", "", "mrt late"]):
        write_tone(tmp_path / f"{i}.wav", 0.5)
        rows.append({"file_name": f"{i}.wav", "transcription": text, "split": "train"})
    root = write_audiofolder(tmp_path, rows)
    labeller, _ = _labeller(TRAIN)
    drops = DropCounter()
    data = typed_defaults(DataConfig, name="t", sources={"t": typed_defaults(SourceConfig, kind="local",
                                                                             path=str(root))})
    split = build_split(data, "train", extractor=WhisperFeatureExtractor(feature_size=80), labeller=labeller,
                        max_label_tokens=100, store=None, seed=0, drops=drops)
    assert split.texts == ["lah lah", "mrt late"]
    counts = drops.as_dict()["t"]
    assert counts["empty transcript"] == 1
    assert counts["no label tokens (no vocabulary character after normalisation)"] == 2
    assert sum(len(examples) for examples in drops.examples.values()) == 3  # the dropped ids are named
