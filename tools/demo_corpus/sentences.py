"""Text inventory for the synthetic ``demo_sg`` data set: templates and slot fillers.

Everything here is written for this project: Singapore-flavoured everyday English
(MRT, hawker food, HDB flats, errands, Singlish particles).  Numbers, prices, times
and dates are spelled out in words so that the reference transcript is exactly what
espeak-ng says; abbreviations that espeak-ng would expand or mangle are avoided.
Acronyms that Singaporeans spell out letter by letter (MRT, HDB, BTO, CPF) are kept,
because espeak-ng also spells them.

:func:`generate_sentences` turns the inventory into distinct sentences with a seeded
random generator, so the same seed always gives the same list.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable

# --------------------------------------------------------------------------- slots

STATIONS: tuple[str, ...] = (
    "Tampines", "Jurong East", "Bishan", "Toa Payoh", "Ang Mo Kio", "Bugis", "Raffles Place",
    "City Hall", "Dhoby Ghaut", "Orchard", "Outram Park", "Harbourfront", "Paya Lebar",
    "Serangoon", "Woodlands", "Yishun", "Punggol", "Sengkang", "Clementi", "Buona Vista",
    "Pasir Ris", "Bedok", "Tanah Merah", "Changi Airport", "Little India", "Chinatown",
    "Bukit Panjang", "Boon Lay", "Kranji", "Marina Bay", "Novena", "Newton", "Somerset",
    "Lavender", "Kallang", "Aljunied", "Eunos", "Queenstown", "Redhill", "Tiong Bahru",
    "Choa Chu Kang", "Hougang", "Potong Pasir", "Bayfront", "Stevens", "Botanic Gardens",
)
"""MRT stations, spelled the way the station signs spell them."""

LINES: tuple[str, ...] = (
    "North South Line", "East West Line", "Circle Line", "Downtown Line", "North East Line",
    "Thomson East Coast Line", "red line", "green line", "yellow line", "blue line",
    "purple line", "brown line",
)
"""MRT lines, by official name and by colour."""

TOWNS: tuple[str, ...] = (
    "Tampines", "Jurong West", "Bishan", "Toa Payoh", "Ang Mo Kio", "Bedok", "Woodlands",
    "Yishun", "Punggol", "Sengkang", "Clementi", "Pasir Ris", "Hougang", "Bukit Batok",
    "Choa Chu Kang", "Queenstown", "Serangoon", "Geylang", "Marine Parade", "Bukit Merah",
)
"""HDB towns."""

FOODS: tuple[str, ...] = (
    "chicken rice", "char kway teow", "laksa", "nasi lemak", "roti prata", "mee goreng",
    "bak chor mee", "fish soup", "carrot cake", "chilli crab", "satay", "wanton mee",
    "hokkien mee", "mee siam", "lor mee", "kaya toast", "nasi padang", "thosai", "briyani",
    "popiah", "rojak", "ban mian", "yong tau foo", "economic rice", "duck rice",
    "prawn noodles", "chwee kueh", "fried oyster", "mutton soup", "mee rebus",
)
"""Hawker dishes."""

DRINKS: tuple[str, ...] = (
    "teh tarik", "kopi o", "kopi peng", "teh peng", "milo dinosaur", "sugar cane juice",
    "bandung", "lime juice", "barley", "soya bean milk", "kopi siew dai", "teh halia",
)
"""Kopitiam drinks."""

DESSERTS: tuple[str, ...] = ("ice kachang", "chendol", "tau huay", "orh nee", "pulut hitam", "bubur cha cha")
"""Desserts."""

HAWKER_CENTRES: tuple[str, ...] = (
    "Maxwell", "Lau Pa Sat", "Old Airport Road", "Tiong Bahru Market", "Chomp Chomp",
    "Newton Food Centre", "Adam Road", "Tekka Centre", "Amoy Street", "Bedok Interchange",
    "Golden Mile", "Ghim Moh Market", "Whampoa", "Geylang Serai",
)
"""Hawker centres and markets."""

NAMES: tuple[str, ...] = (
    # Chinese
    "Wei Ming", "Mei Ling", "Jun Jie", "Hui Min", "Kelvin", "Jasmine", "Ah Seng", "Siew Ling",
    "Darren", "Shu Fen", "Xiao Hui", "Boon Keng",
    # Malay
    "Siti", "Nurul", "Hafiz", "Farah", "Aisyah", "Ahmad", "Zul", "Fatimah", "Iskandar", "Nadia",
    # Indian
    "Priya", "Ravi", "Arjun", "Kavitha", "Suresh", "Deepa", "Murugan", "Lakshmi", "Vijay", "Anand",
    # Eurasian and others
    "Gerald", "Melissa", "Brendan", "Celeste", "Adrian", "Natalie", "Desmond", "Charmaine",
)
"""Given names from Singapore's Chinese, Malay, Indian and Eurasian communities."""

SURNAMES: tuple[str, ...] = (
    "Tan", "Lim", "Lee", "Ng", "Goh", "Chua", "Ong", "Teo", "Koh", "Wong",
    "bin Abdullah", "binte Rahman", "bin Ismail", "binte Osman",
    "Pillai", "Nair", "Subramaniam", "Krishnan", "Rajan",
    "de Souza", "Pereira", "Rodrigues", "Fernandez", "Westerhout", "Sequeira",
)
"""Family names (used with a full name)."""

FAMILY: tuple[str, ...] = (
    "my mother", "my father", "my grandma", "my grandpa", "my sister", "my brother",
    "my auntie", "my uncle", "my cousin", "my neighbour", "my colleague", "my son", "my daughter",
)
"""Family members and acquaintances."""

ADDRESS_TERMS: tuple[str, ...] = ("Uncle", "Auntie", "boss", "bro", "sis")
"""Ways to address a stallholder or a stranger."""

PARTICLES: tuple[str, ...] = ("lah", "leh", "lor", "meh", "hor", "ah")
"""Singlish sentence-final particles."""

WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)

ERRANDS: tuple[str, ...] = (
    "top up my card", "collect a parcel at the post office", "pay the conservancy charges",
    "queue at the polyclinic", "buy groceries at FairPrice", "pick up the kids from school",
    "bring grandma to the clinic", "go to the bank", "renew my passport", "pay the phone bill",
    "send the laundry", "buy bread from the bakery", "return the library books",
    "fix the aircon", "change the light bulb", "book a Grab", "withdraw cash from the ATM",
    "check my CPF statement", "get a haircut", "buy flowers for my mother",
)
"""Everyday errands (verb phrases)."""

PLACES: tuple[str, ...] = (
    "the void deck", "the coffee shop downstairs", "the community centre", "the wet market",
    "the bus interchange", "the taxi stand", "the playground", "the multi storey car park",
    "the neighbourhood park", "the shopping mall", "the library", "the polyclinic",
    "the post office", "the bus stop opposite", "the hawker centre",
)
"""Neighbourhood places."""

FLAT_TYPES: tuple[str, ...] = (
    "two room flat", "three room flat", "four room flat", "five room flat", "executive flat",
    "BTO flat", "resale flat",
)

WEATHER: tuple[str, ...] = (
    "so hot today", "raining cats and dogs", "very humid", "quite cooling this morning",
    "going to rain later", "too sunny to walk",
)

# --------------------------------------------------------------------------- numbers in words

_UNITS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS: tuple[str, ...] = (
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
)
_ORDINAL_UNITS: dict[str, str] = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
_DIGITS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def number_to_words(n: int) -> str:
    """Spell a non-negative integer below one million in British English words."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"number out of range: {n}")
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + (f" {_UNITS[unit]}" if unit else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = f"{_UNITS[hundreds]} hundred"
        return head + (f" and {number_to_words(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = f"{number_to_words(thousands)} thousand"
    if not rest:
        return head
    return head + (" and " if rest < 100 else " ") + number_to_words(rest)


def ordinal_to_words(n: int) -> str:
    """Spell an ordinal (1 -> ``first``, 23 -> ``twenty third``) for 1..99."""
    if not 1 <= n < 100:
        raise ValueError(f"ordinal out of range: {n}")
    words = number_to_words(n).split(" ")
    last = words[-1]
    if last in _ORDINAL_UNITS:
        words[-1] = _ORDINAL_UNITS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


# --------------------------------------------------------------------------- generated slots


def price(rng: random.Random) -> str:
    """A hawker-scale price such as ``four dollars fifty`` or ``one dollar twenty``."""
    dollars = rng.choice((1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20, 25, 30, 45, 60))
    cents = rng.choice((0, 0, 10, 20, 30, 50, 60, 80, 90))
    head = "one dollar" if dollars == 1 else f"{number_to_words(dollars)} dollars"
    return head + (f" {number_to_words(cents)}" if cents else "")


def big_price(rng: random.Random) -> str:
    """A larger amount such as ``three hundred and fifty dollars``."""
    amount = rng.choice((120, 150, 200, 250, 350, 480, 600, 750, 900, 1200, 1500, 2800))
    return f"{number_to_words(amount)} dollars"


def clock_time(rng: random.Random) -> str:
    """A spoken clock time such as ``half past seven`` or ``six forty five``."""
    hour = number_to_words(rng.randint(1, 12))
    style = rng.randrange(5)
    if style == 0:
        return f"half past {hour}"
    if style == 1:
        return f"quarter to {hour}"
    if style == 2:
        return f"{hour} o'clock"
    minute = rng.choice((5, 10, 15, 20, 25, 35, 40, 45, 50, 55))
    if style == 3:
        return f"{hour} {number_to_words(minute)}"
    return f"{number_to_words(minute)} past {hour}" if minute <= 30 else f"{hour} {number_to_words(minute)}"


def day_part_time(rng: random.Random) -> str:
    """A time with a part of the day, such as ``eight in the morning``."""
    part, hours = rng.choice(
        (("in the morning", range(6, 12)), ("in the afternoon", range(1, 6)), ("at night", range(8, 12)))
    )
    return f"{number_to_words(rng.choice(list(hours)))} {part}"


def date(rng: random.Random) -> str:
    """A date such as ``the third of March``."""
    return f"the {ordinal_to_words(rng.randint(1, 28))} of {rng.choice(MONTHS)}"


def block_number(rng: random.Random) -> str:
    """An HDB block number such as ``four hundred and twelve``."""
    return number_to_words(rng.randint(101, 899))


def floor_number(rng: random.Random) -> str:
    """A storey such as ``twelve``."""
    return number_to_words(rng.randint(2, 30))


def small_count(rng: random.Random) -> str:
    """A small quantity such as ``three``."""
    return number_to_words(rng.randint(2, 12))


def minutes(rng: random.Random) -> str:
    """A waiting time in minutes such as ``fifteen``."""
    return number_to_words(rng.choice((2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 45)))


def bus_number(rng: random.Random) -> str:
    """A bus service number read out as a number (``one hundred and seventy``)."""
    return number_to_words(rng.choice((2, 7, 14, 16, 36, 51, 65, 67, 97, 106, 139, 143, 170, 190, 961)))


def phone_number(rng: random.Random) -> str:
    """An eight-digit Singapore mobile number read digit by digit."""
    digits = [rng.choice((8, 9))] + [rng.randrange(10) for _ in range(7)]
    return " ".join(_DIGITS[d] for d in digits)


def postal_code(rng: random.Random) -> str:
    """A six-digit postal code read digit by digit."""
    return " ".join(_DIGITS[rng.randrange(10)] for _ in range(6))


def full_name(rng: random.Random) -> str:
    """A given name and a family name such as ``Priya Nair``."""
    return f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}"


def when(rng: random.Random) -> str:
    """A loose day reference such as ``this Saturday`` or ``tomorrow``."""
    style = rng.randrange(4)
    if style == 0:
        return f"this {rng.choice(WEEKDAYS)}"
    if style == 1:
        return f"next {rng.choice(WEEKDAYS)}"
    if style == 2:
        return f"on {rng.choice(WEEKDAYS)}"
    return rng.choice(("tomorrow", "later", "tonight", "this weekend", "after work", "tomorrow morning"))


Filler = Callable[[random.Random], str]


def _pick(options: tuple[str, ...]) -> Filler:
    """Wrap a tuple of strings as a slot filler."""
    return lambda rng: rng.choice(options)


SLOTS: dict[str, Filler] = {
    "station": _pick(STATIONS),
    "station2": _pick(STATIONS),
    "line": _pick(LINES),
    "town": _pick(TOWNS),
    "food": _pick(FOODS),
    "food2": _pick(FOODS),
    "drink": _pick(DRINKS),
    "dessert": _pick(DESSERTS),
    "hawker": _pick(HAWKER_CENTRES),
    "name": _pick(NAMES),
    "name2": _pick(NAMES),
    "full_name": full_name,
    "family": _pick(FAMILY),
    "addr": _pick(ADDRESS_TERMS),
    "p": _pick(PARTICLES),
    "weekday": _pick(WEEKDAYS),
    "errand": _pick(ERRANDS),
    "errand2": _pick(ERRANDS),
    "place": _pick(PLACES),
    "flat": _pick(FLAT_TYPES),
    "weather": _pick(WEATHER),
    "price": price,
    "price2": price,
    "big_price": big_price,
    "time": clock_time,
    "day_time": day_part_time,
    "date": date,
    "block": block_number,
    "floor": floor_number,
    "count": small_count,
    "minutes": minutes,
    "bus": bus_number,
    "phone": phone_number,
    "postal": postal_code,
    "when": when,
}
"""Slot name -> filler.  Templates refer to slots as ``{name}``."""

# --------------------------------------------------------------------------- templates

TEMPLATES: tuple[str, ...] = (
    # MRT and buses
    "Take the {line} to {station}, then change to the {line} {p}.",
    "Can meet at {station} MRT station at {time} or not?",
    "The train to {station} got delay again, I think I will be {minutes} minutes late {p}.",
    "Alight at {station} and walk to exit B, I wait for you there.",
    "From {station} to {station2} only {minutes} minutes by MRT {p}.",
    "The {line} is very crowded {when}, better take bus {bus}.",
    "Bus {bus} is coming in {minutes} minutes, run faster {p}!",
    "Is this train going to {station} or {station2} ah?",
    "Excuse me, which platform for the {line} to {station}?",
    "I stay near {station} MRT, very convenient one {p}.",
    "Tap your card properly {p}, the gantry at {station} very sensitive.",
    # hawker food and drinks
    "{addr}, one {food} and one {drink}, takeaway please.",
    "{addr}, two {food}, one no chilli, how much ah?",
    "The {food} at {hawker} very shiok, must try {p}.",
    "Wah, {price} for one plate of {food}, so expensive {p}.",
    "One {drink} and one {dessert}, total {price}.",
    "Tonight we go {hawker} eat {food} and {food2}, can or not?",
    "The queue for {food} at {hawker} so long, wait until {time} also cannot finish {p}.",
    "I chope the table already, you go buy the {food} {p}.",
    "This {food} only {price}, cheaper than the one at {hawker}.",
    "{name} ordered {count} plates of {food} for the whole office.",
    "After lunch I always need one {drink}, otherwise cannot work {p}.",
    "The {food} stall at {hawker} closed on {weekday}, so sad {p}.",
    "Uncle, the {food} and the {drink} together {price} is it?",
    "My favourite breakfast is {food} with {drink}, every morning also can.",
    # HDB flats
    "I stay at block {block}, level {floor}, near {place}.",
    "We got our {flat} in {town} after waiting {count} years {p}.",
    "The lift at block {block} spoil again, I need to climb {floor} floors {p}.",
    "Meet me at {place} of block {block} at {time}.",
    "The renovation for our {flat} cost {big_price}, quite worth it {p}.",
    "My neighbour at level {floor} always play mahjong until very late {p}.",
    "Town council say they will repaint block {block} in {town} {when}.",
    "Our {flat} in {town} is near {station} MRT, very convenient.",
    # names and people
    "{full_name} is calling from the office, can you pick up?",
    "Please tell {name} the meeting is on {date} at {time}.",
    "{name} and {name2} are coming over for dinner {when}.",
    "Ask {family} to bring the {dessert}, the kids love it {p}.",
    "My contact number is {phone}, call me {when}.",
    "Send the parcel to block {block}, postal code {postal}.",
    "{name} say she cannot make it {when}, she very busy {p}.",
    "Happy birthday {name}, we book the table at {hawker} already.",
    "I think {full_name} is the new manager, very nice person {p}.",
    # dates, errands
    "My appointment at the polyclinic is on {date} at {day_time}.",
    "I need to {errand} and {errand2} before {time}.",
    "{when} I must {errand}, cannot go out with you {p}.",
    "Can you help me {errand}? I stuck in the office until {time}.",
    "The concert at {station} is on {date}, tickets cost {big_price}.",
    "School holidays start on {date}, we going {town} to visit {family}.",
    "Remind me to {errand} on {weekday}, I always forget {p}.",
    "The bill is {price}, I pay first, you transfer me later can?",
    "I paid {big_price} for the aircon servicing, so expensive {p}.",
    "Last time the {drink} only {price}, now everything also increase price {p}.",
    "{family} wants to {errand} {when}, so I go along {p}.",
    # weather and chit-chat
    "Today {weather}, I think I take a cab to {station} {p}.",
    "Why so quiet today, everybody go {town} for the sale {p}?",
    "You sure or not, {name} really moving to {town} meh?",
    "Don't play play {p}, the deadline is on {date}.",
    "Walao, {weather}, I don't want to go out {p}.",
    "Later we meet at {station} at {day_time}, don't be late {p}.",
    "Got {count} people in the group, book a bigger table at {hawker}.",
    "This weekend got durian sale at {town}, {count} for {big_price} {p}.",
)
"""Sentence templates; ``{p}`` is a Singlish particle, other slots are listed in :data:`SLOTS`."""

MIN_WORDS = 6
"""Shortest sentence kept, in words (about two seconds of speech)."""

MAX_WORDS = 22
"""Longest sentence kept, in words (about eight seconds of speech)."""

_PUNCT_TABLE = str.maketrans({c: " " for c in string.punctuation if c != "'"})
_SLOT_RE = re.compile(r"\{(\w+)\}")


def normalise_text(text: str) -> str:
    """Lower-case, drop punctuation (keeping apostrophes inside words) and squeeze spaces."""
    cleaned = text.lower().translate(_PUNCT_TABLE).replace("'", "")
    return " ".join(cleaned.split())


def fill_template(template: str, rng: random.Random) -> str:
    """Fill every ``{slot}`` of ``template`` and capitalise the first letter."""
    text = _SLOT_RE.sub(lambda m: SLOTS[m.group(1)](rng), template)
    text = " ".join(text.split())
    return text[0].upper() + text[1:]


def generate_sentences(n: int, seed: int, max_tries_factor: int = 50) -> list[str]:
    """Return ``n`` distinct sentences (distinct after :func:`normalise_text`), seeded.

    Templates are visited in a shuffled round robin so that every template is used
    about equally often; sentences outside ``MIN_WORDS..MAX_WORDS`` are skipped.
    """
    rng = random.Random(seed)
    sentences: list[str] = []
    seen: set[str] = set()
    order: list[str] = []
    for _ in range(n * max_tries_factor):
        if len(sentences) == n:
            break
        if not order:
            order = list(TEMPLATES)
            rng.shuffle(order)
        text = fill_template(order.pop(), rng)
        key = normalise_text(text)
        if key in seen or not MIN_WORDS <= len(key.split()) <= MAX_WORDS:
            continue
        seen.add(key)
        sentences.append(text)
    if len(sentences) < n:
        raise RuntimeError(f"could only make {len(sentences)} distinct sentences, wanted {n}")
    return sentences
