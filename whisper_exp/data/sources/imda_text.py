"""IMDA National Speech Corpus transcript conventions → plain text a Whisper model should output.

The NSC transcription guidelines (shipped in each part's DOC folder; conventions as used by the
Part 1/2 SCRIPT files and the Part 3 TextGrids) mark, inside the orthographic transcription:

==================  ==========================================  ===============================
mark                meaning                                     what we do
==================  ==========================================  ===============================
``<Z>``             invalid / unusable utterance                drop the utterance
``<NEN>``           non-English utterance                       drop the utterance
``<UNK>``           unclear word(s)                             drop the utterance (a label
                                                                with a gap would teach the
                                                                model to skip speech);
                                                                ``drop_unclear=false`` removes
                                                                the mark instead
``(ppb)`` ``(ppc)`` paralinguistic: breath, cough, laugh,       remove
``(ppl)`` ``(ppo)`` other
``<FIL/>`` ``<SPK/>`` filler, speaker noise, non-primary noise,   remove (any ``<…/>`` tag, and
``<NON/>`` ``<STA/>`` stationary noise, non-primary speaker,    ``<S>`` short pause)
``<NPS/>`` ``<S>``
``(uh)`` ``(um)``   filler words in round brackets              remove; ``keep_fillers=true``
                                                                keeps the word
``[lah]`` ``[leh]`` Singlish discourse particles               keep the word, drop brackets
``!walao!``         interjections                               keep the word, drop the marks
``#pasar malam#``   words from other languages                  keep the words, drop the marks
``abbre~``          incomplete (cut-off) word                   remove the fragment
``n_t_u``           acronym spelt letter by letter              join: ``ntu``
``**``              transcriber's uncertainty mark              remove the asterisks
==================  ==========================================  ===============================

Whitespace is collapsed; an utterance with no words left is dropped. Each drop has a reason
string, counted by the reader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DROP_MARKS = {"<Z>": "invalid utterance (<Z>)", "<NEN>": "non-English utterance (<NEN>)"}
UNCLEAR_MARK = "<UNK>"
UNCLEAR_REASON = "unclear word (<UNK>)"
EMPTY_REASON = "no words after cleaning annotations"

_PARALINGUISTIC = re.compile(r"\(\s*pp[a-z]\s*\)", re.IGNORECASE)
_FILLER = re.compile(r"\(\s*([^()]*?)\s*\)")
_TAG = re.compile(r"<[^<>]*>")
_INCOMPLETE = re.compile(r"\S*~\S*")
_PARTICLE = re.compile(r"\[\s*([^\[\]]*?)\s*\]")
_MARK_CHARS = re.compile(r"[!#*]")
_ACRONYM = re.compile(r"(?<=\w)_(?=\w)")
_SPACE = re.compile(r"\s+")
_COMPARABLE_DROP = re.compile(r"[^\w' ]+")


@dataclass(frozen=True)
class CleanedTranscript:
    """The cleaned text, or None with the reason the utterance is dropped."""

    text: str | None
    reason: str | None = None


def clean_transcript(raw: str, *, keep_fillers: bool = False, drop_unclear: bool = True) -> CleanedTranscript:
    """Apply the conventions in the module table to one NSC transcription."""
    upper = raw.upper()
    for mark, reason in DROP_MARKS.items():
        if mark in upper:
            return CleanedTranscript(None, reason)
    if UNCLEAR_MARK in upper:
        if drop_unclear:
            return CleanedTranscript(None, UNCLEAR_REASON)
        raw = re.sub(re.escape(UNCLEAR_MARK), " ", raw, flags=re.IGNORECASE)
    text = _PARALINGUISTIC.sub(" ", raw)
    text = _FILLER.sub(lambda m: f" {m.group(1)} " if keep_fillers else " ", text)
    text = _TAG.sub(" ", text)
    text = _INCOMPLETE.sub(" ", text)
    text = _PARTICLE.sub(lambda m: f" {m.group(1)} ", text)
    text = _MARK_CHARS.sub(" ", text)
    text = _ACRONYM.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    return CleanedTranscript(text) if text else CleanedTranscript(None, EMPTY_REASON)


def comparable(text: str) -> str:
    """Lower case, punctuation removed, spaces collapsed: to tell whether a prompt was read as written."""
    return _SPACE.sub(" ", _COMPARABLE_DROP.sub(" ", text.lower().replace("-", " "))).strip()


def choose_text(prompt: str | None, cleaned: str, *, prefer_prompt: bool) -> str:
    """The prompt (cased, punctuated, as Whisper writes) when the speaker read it exactly, else `cleaned`."""
    if prefer_prompt and prompt and comparable(prompt) == comparable(cleaned):
        return prompt.strip()
    return cleaned
