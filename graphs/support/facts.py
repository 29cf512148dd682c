"""Offline rules for the durable facts worth remembering from a customer's message.

Deliberately simple and predictable, so an operator can tell why something was stored:

- **preference**: a sentence where the customer states how they want to be treated
  ("I prefer...", "please always/never...", "contact me by...", "call me...");
- **identifier**: order numbers (``#W`` + digits) and email addresses they give;
- **issue**: a sentence describing a problem (damaged, broken, missing, late, refund,
  charged twice, wrong item...);
- **fact**: what the customer asks us to keep ("please remember that my T-shirt size is M",
  "I'm allergic to latex, please note that"), and any sentence stating a customer attribute
  the memory store recognises (``storage.memory.slots``: address, sizes, allergies...), so a
  correction ("I moved to ...") is stored and supersedes the old value;
- **identifier** also: phone numbers given with a cue ("my number is ...").

"Please forget my phone number" is not a fact but a request: ``forget_request`` recognises
it and says which memories it is about (``ForgetRequest.matches``), so the graph forgets
those and tells the customer what it forgot.

Questions are not facts ("do you ship to Canada?" says nothing durable), and nothing is
extracted from a message flagged for prompt injection (the guard decides that). With a chat
model configured the same rules run: they are cheap and keep memory writes out of the
model's hands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from storage.memory import slots

FactType = Literal["fact", "preference", "identifier", "issue"]

ORDER_ID = re.compile(r"#W\d{7}\b", re.IGNORECASE)
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_PREFERENCE = re.compile(
    r"\b(i\s+(would\s+)?prefer|i'd\s+prefer|i\s+(always|usually)\s+want|please\s+(always|only|never)"
    r"|(don't|do\s+not|never)\s+(call|email|text|phone|contact)\s+me"
    r"|(contact|reach|email|text|call)\s+me\s+(by|via|on|at|through|only)"
    r"|call\s+me\s+[A-Z]|my\s+preferred\b)",
    re.IGNORECASE,
)
_ISSUE = re.compile(
    r"\b(damaged|broken|broke|cracked|defective|faulty|missing|late|delayed|lost|never\s+(arrived|came)"
    r"|wrong\s+(item|size|colou?r)|charged\s+twice|double\s+charged|not\s+working|stopped\s+working"
    r"|refund|leak(s|ing)?|overheat(s|ing)?)\b",
    re.IGNORECASE,
)
_REMEMBER_LEAD = re.compile(
    r"^(?:please\s+)?(?:remember|note|make a note|keep in mind)\s+(?:that\s+)?(?P<fact>.+)$",
    re.IGNORECASE,
)
_REMEMBER_TAIL = re.compile(
    r"^(?P<fact>.+?)[,;]?\s+(?:please\s+)?(?:note|remember|keep in mind)\s+(?:that|this|it)[.!]*$",
    re.IGNORECASE,
)
_FORGET = re.compile(
    r"\b(?:forget|delete|remove|erase)\s+(?:my|the|your note of my|what you know about my)\s+"
    r"(?P<target>[\w -]{2,60}?)(?:\s+(?:from|you have|you stored)\b.*)?[.!]*$",
    re.IGNORECASE,
)
# Words of a forget request, mapped to the slots of ``storage.memory.slots`` they name.
_FORGET_SLOTS = {
    "phone": "phone",
    "number": "phone",
    "mobile": "phone",
    "email": "email",
    "e-mail": "email",
    "address": "address",
    "name": "name",
    "size": "size",
    "sizes": "size",
    "allergy": "allergy",
    "allergies": "allergy",
    "payment": "payment_preference",
    "card": "payment_preference",
    "language": "language",
    "delivery": "delivery_instructions",
    "subscription": "subscription",
    "contact": "contact_preference",
}
# Slots whose sentence is stored on its own (phone and e-mail become identifiers).
_FACT_SLOTS = ("address", "name", "size", "allergy", "care")
_PREFERENCE_SLOTS = (
    "contact_preference",
    "payment_preference",
    "delivery_instructions",
    "language",
    "subscription",
)
_LABEL = re.compile(r"^(Preference|Reported issue): ")
_MAX_FACT_CHARS = 300
_IMPORTANCE: dict[FactType, float] = {
    "fact": 0.8,
    "preference": 0.8,
    "identifier": 0.7,
    "issue": 0.6,
}


@dataclass(frozen=True)
class Fact:
    content: str
    content_type: FactType
    importance: float


def _fact(content: str, content_type: FactType) -> Fact:
    return Fact(content, content_type, _IMPORTANCE[content_type])


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE.split(text) if part.strip()]


def _clip(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= _MAX_FACT_CHARS else sentence[: _MAX_FACT_CHARS - 1] + "…"


@dataclass(frozen=True)
class ForgetRequest:
    """What the customer asked us to forget: the words they used and the slots they name."""

    target: str
    slot_prefixes: tuple[str, ...]

    def matches(self, content: str) -> bool:
        """Whether a remembered text is about what the customer asked to forget."""
        if self.slot_prefixes:
            keys = slots.recognise(content)
            return any(key.startswith(self.slot_prefixes) for key in keys)
        words = set(re.findall(r"\w+", self.target.lower()))
        return bool(words) and words <= set(re.findall(r"\w+", content.lower()))


def forget_request(message: str) -> ForgetRequest | None:
    """A request to forget something about the customer ("please forget my phone number")."""
    for sentence in _sentences(message):
        match = _FORGET.search(sentence)
        if match:
            target = " ".join(match.group("target").split())
            words = re.findall(r"[\w-]+", target.lower())
            prefixes = tuple(dict.fromkeys(_FORGET_SLOTS[w] for w in words if w in _FORGET_SLOTS))
            return ForgetRequest(target, prefixes)
    return None


def _asked_to_note(sentence: str) -> str | None:
    for pattern in (_REMEMBER_LEAD, _REMEMBER_TAIL):
        match = pattern.match(sentence.rstrip(".! "))
        if match:
            fact = match.group("fact").strip(" ,;")
            return fact[:1].upper() + fact[1:] if fact else None
    return None


def _states(sentence: str, kinds: tuple[str, ...]) -> bool:
    """Whether the sentence states a customer attribute of one of these kinds."""
    return any(key.startswith(kinds) for key in slots.recognise(sentence))


def _phones(sentence: str) -> list[str]:
    phone = slots.recognise(sentence).get("phone")
    return [phone] if phone else []


def extract_facts(message: str) -> list[Fact]:
    """The durable facts stated in ``message``, each once, in a stable order."""
    facts: list[Fact] = []
    phones: list[str] = []
    for sentence in _sentences(message):
        if sentence.endswith("?") or _FORGET.search(sentence):
            continue
        phones += _phones(sentence)
        noted = _asked_to_note(sentence)
        if noted:
            facts.append(_fact(_clip(noted), "fact"))
        elif _PREFERENCE.search(sentence) or _states(sentence, _PREFERENCE_SLOTS):
            facts.append(_fact(f"Preference: {_clip(sentence)}", "preference"))
        elif _ISSUE.search(sentence):
            facts.append(_fact(f"Reported issue: {_clip(sentence)}", "issue"))
        elif _states(sentence, _FACT_SLOTS):
            facts.append(_fact(_clip(sentence), "fact"))
    for order_id in dict.fromkeys(match.upper() for match in ORDER_ID.findall(message)):
        facts.append(_fact(f"Order number: {order_id}", "identifier"))
    for email in dict.fromkeys(match.lower() for match in EMAIL.findall(message)):
        facts.append(_fact(f"Email address: {email}", "identifier"))
    for phone in dict.fromkeys(phones):
        facts.append(_fact(f"Phone number: {phone}", "identifier"))
    return facts


def correction_note(corrections: list[str]) -> str:
    """What the turn ends with when facts replaced older ones: the new values, confirmed."""
    values = "; ".join(_LABEL.sub("", text).rstrip(".") for text in corrections)
    return f"I've updated my notes: {values}. This replaces what I had before."


def forgot_note(forgotten: list[str], request: ForgetRequest) -> str:
    """What the reply says after a forget request: what was forgotten, or that nothing was."""
    if not forgotten:
        return f"I had nothing stored about your {request.target}, so there was nothing to forget."
    count = "one note" if len(forgotten) == 1 else f"{len(forgotten)} notes"
    return f"Done: I've forgotten {count} about your {request.target}."
