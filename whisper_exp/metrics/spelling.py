"""British → American spellings for Whisper's English normaliser when the tokenizer has none.

Hub checkpoints ship ``normalizer.json`` (about 1,700 pairs) and the tokenizer exposes it as
``english_spelling_normalizer``; offline conversions (CTranslate2 folders) do not carry it.
Singapore English is written with British spelling while Whisper's English models emit
American spelling, so without a mapping "colour" vs "color" would count as an error.
This is a short hand-written list of the common pairs, used only as that fallback.
"""

from __future__ import annotations

_STEMS = {
    # -our → -or
    "colour": "color", "flavour": "flavor", "favour": "favor", "favourite": "favorite",
    "neighbour": "neighbor", "neighbourhood": "neighborhood", "behaviour": "behavior",
    "harbour": "harbor", "honour": "honor", "humour": "humor", "labour": "labor",
    "rumour": "rumor", "vapour": "vapor", "savoury": "savory", "parlour": "parlor",
    # -re → -er
    "centre": "center", "theatre": "theater", "metre": "meter", "kilometre": "kilometer",
    "litre": "liter", "fibre": "fiber", "calibre": "caliber",
    # -ise → -ize
    "organise": "organize", "realise": "realize", "recognise": "recognize", "apologise": "apologize",
    "prioritise": "prioritize", "finalise": "finalize", "customise": "customize",
    "minimise": "minimize", "maximise": "maximize", "summarise": "summarize", "specialise": "specialize",
    "emphasise": "emphasize", "criticise": "criticize", "memorise": "memorize", "sterilise": "sterilize",
    # -yse → -yze
    "analyse": "analyze", "paralyse": "paralyze",
    # doubled l
    "travelled": "traveled", "travelling": "traveling", "traveller": "traveler",
    "cancelled": "canceled", "cancelling": "canceling", "labelled": "labeled", "modelling": "modeling",
    "fuelled": "fueled", "queueing": "queuing",
    # misc
    "programme": "program", "cheque": "check", "jewellery": "jewelry", "grey": "gray",
    "tyre": "tire", "kerb": "curb", "aluminium": "aluminum", "mum": "mom", "pyjamas": "pajamas",
    "defence": "defense", "licence": "license", "offence": "offense", "practise": "practice",
    "enrol": "enroll", "fulfil": "fulfill", "storey": "story", "plough": "plow", "catalogue": "catalog",
    "dialogue": "dialog", "ageing": "aging", "judgement": "judgment", "manoeuvre": "maneuver",
}

def _inflect(british: str, american: str) -> dict[str, str]:
    pairs = {british: american, british + "s": american + "s"}
    if british.endswith("ise") or british.endswith("yse"):
        for suffix in ("d", "s"):
            pairs[british + suffix] = american + suffix
        pairs[british[:-1] + "ing"] = american[:-1] + "ing"
        pairs[british[:-1] + "ation"] = american[:-1] + "ation"
    return pairs


BRITISH_TO_AMERICAN: dict[str, str] = {}
for _british, _american in _STEMS.items():
    BRITISH_TO_AMERICAN.update(_inflect(_british, _american))
