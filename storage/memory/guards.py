"""The guard tier between "similar" and "same": what makes two look-alike texts two facts.

Embeddings and SimHash both score "rates rise" and "rates fall", "call me" and "never call
me", "size M" and "size L" as near-identical, yet merging them loses one of the two facts,
the one failure a memory must not have. So a near or semantic match only counts as a
duplicate when none of these differ (each check is cheap, deterministic and explainable):

- ``number``: the numbers mentioned (order ids, amounts, dates, sizes in digits);
- ``negation``: whether a negation is present (not, never, no longer, don't...);
- ``direction``: one text has a word whose opposite the other has (rise/fall, like/dislike...);
- ``entity``: a name in one text was replaced by another name in the other (capitalised words
  past the first, e-mail addresses); an added name alone is not a substitution;
- ``slot``: both state the same customer attribute with different values (``slots``).

``both_hold`` asks the converse question for corrections a model judges (``remember``'s
``supersedes``): can the two facts be true together, so that nothing may supersede one by the
other? A model's word is not evidence, so it stands only where these rules see a change.
"""

from __future__ import annotations

import re

from storage.memory import slots as slot_rules

_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*(?:\s?(?:am|pm|%|kg|g|lb|cm|mm|m|km|gb|tb|st|nd|rd|th)\b)?"
    r"|\b(?:zero|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|twenty|thirty|forty|fifty|hundred|thousand|million|once|twice|half|double)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_NEGATION = re.compile(
    r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|no longer|anymore)\b"
    r"|n't\b",
    re.IGNORECASE,
)
_OPENERS = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "i",
        "i'm",
        "we",
        "he",
        "she",
        "they",
        "it",
        "there",
        "here",
        "what",
        "when",
        "where",
        "who",
        "why",
        "how",
        "please",
        "actually",
        "customer",
        "customers",
        "also",
        "and",
        "but",
        "so",
        "if",
        "in",
        "on",
        "at",
        "for",
        "to",
        "from",
        "with",
        "by",
        "as",
        "after",
        "before",
        "since",
        "while",
        "once",
        "then",
        "now",
        "today",
        "yesterday",
        "tomorrow",
        "no",
        "not",
        "never",
        "some",
        "many",
        "most",
        "all",
        "any",
        "each",
        "every",
        "one",
        "two",
        "three",
        "email",
        "e-mail",
        "phone",
        "order",
        "reported",
        "preference",
        "address",
    ]
)
_EMAIL = re.compile(r"\b[\w.%+-]+@[\w.-]+\.[a-z]{2,24}\b", re.IGNORECASE)
# Words by which a customer says a fact is new or changed ("I *now* live in ...").
_UPDATE = re.compile(
    r"\b(now|nowadays|these days|actually|anymore|any more|no longer|instead|moved|changed"
    r"|switched|new|updated?|correction)\b",
    re.IGNORECASE,
)
# Words by which a customer says a fact comes on top of the others ("I *also* have a cat").
_ADDITION = re.compile(r"\b(also|as well|another|in addition|besides)\b", re.IGNORECASE)
# Opposite poles as base words; inflections (-s, -es, -ed, -d, -ing) are generated below.
_OPPOSITES = (
    ("rise", "fall"),
    ("rose", "fell"),
    ("increase", "decrease"),
    ("up", "down"),
    ("higher", "lower"),
    ("more", "less"),
    ("gain", "lose"),
    ("win", "lose"),
    ("won", "lost"),
    ("buy", "sell"),
    ("bought", "sold"),
    ("open", "close"),
    ("start", "stop"),
    ("begin", "end"),
    ("enable", "disable"),
    ("allow", "forbid"),
    ("accept", "reject"),
    ("approve", "deny"),
    ("approve", "reject"),
    ("like", "dislike"),
    ("love", "hate"),
    ("like", "hate"),
    ("subscribe", "unsubscribe"),
    ("include", "exclude"),
    ("add", "remove"),
    ("before", "after"),
    ("early", "late"),
    ("earlier", "later"),
    ("morning", "evening"),
    ("weekday", "weekend"),
    ("day", "night"),
    ("hot", "cold"),
    ("big", "small"),
    ("large", "small"),
    ("cheap", "expensive"),
    ("fast", "slow"),
    ("positive", "negative"),
    ("succeed", "fail"),
    ("pass", "fail"),
    ("left", "right"),
    ("north", "south"),
    ("east", "west"),
    ("import", "export"),
    ("arrive", "depart"),
    ("enter", "exit"),
    ("same", "different"),
    ("happy", "unhappy"),
    ("satisfied", "dissatisfied"),
    ("boy", "girl"),
    ("husband", "wife"),
)


def _forms(word: str) -> set[str]:
    stem = word[:-1] if word.endswith("e") else word
    return {word, word + "s", word + "es", word + "d", word + "ed", stem + "ing", stem + "ed"}


_POLES: dict[str, set[tuple[int, int]]] = {}
for _index, _pair in enumerate(_OPPOSITES):
    for _pole, _word in enumerate(_pair):
        for _form in _forms(_word):
            _POLES.setdefault(_form, set()).add((_index, _pole))


def _poles(words: set[str]) -> set[tuple[int, int]]:
    """(pair index, pole) for every word that is a form of one side of an opposite pair."""
    return {mark for word in words for mark in _POLES.get(word, ())}


def _numbers(text: str) -> set[str]:
    return {number.lower() for number in _NUMBER.findall(text)}


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}


def _entities(text: str) -> set[str]:
    """Capitalised words (a sentence's first only if it is not a common opener), e-mails."""
    names = {email.lower() for email in _EMAIL.findall(text)}
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        tokens = _WORD.findall(sentence)
        if tokens and tokens[0].lower() in _OPENERS:
            tokens = tokens[1:]
        names.update(t.lower() for t in tokens if t[0].isupper() and t.lower() not in _OPENERS)
    return names


def differences(a: str, b: str) -> list[str]:
    """Why two similar texts are not the same fact (empty: nothing tells them apart)."""
    found = []
    if _numbers(a) != _numbers(b):
        found.append("number")
    if bool(_NEGATION.search(a)) != bool(_NEGATION.search(b)):
        found.append("negation")
    poles_a, poles_b = _poles(_words(a)), _poles(_words(b))
    if any(
        (index, 1 - pole) in poles_b and (index, pole) not in poles_b for index, pole in poles_a
    ):
        found.append("direction")
    names_a, names_b = _entities(a), _entities(b)
    if names_a - names_b and names_b - names_a:
        found.append("entity")
    slots_a, slots_b = slot_rules.recognise(a), slot_rules.recognise(b)
    if any(slots_b.get(key, value) != value for key, value in slots_a.items()):
        found.append("slot")
    return found


def same_fact(a: str, b: str) -> bool:
    return not differences(a, b)


def both_hold(new: str, old: str) -> bool:
    """Whether ``new`` leaves ``old`` true, so that no judgement may supersede ``old`` by it.

    They both hold when they state different customer attributes (slots with no key in
    common: a new allergy adds to the old one), when ``new`` says it adds ("I also have a
    cat"), or when nothing tells them apart (no number, negation, direction, name or slot
    value differs) and ``new`` does not say it is a change: "I have a cat" beside "I have a
    dog" is a second pet, "I now live in Portland" replaces "I live in Seattle".
    """
    slots_new, slots_old = slot_rules.recognise(new), slot_rules.recognise(old)
    if slots_new and slots_old and not slots_new.keys() & slots_old.keys():
        return True
    if _ADDITION.search(new):
        return True
    return not differences(new, old) and not _UPDATE.search(new)
