"""Offline rules for the durable facts worth remembering from a customer's message.

Deliberately simple and predictable, so an operator can tell why something was stored:

- **preference**: a sentence where the customer states how they want to be treated
  ("I prefer...", "please always/never...", "contact me by...", "call me...");
- **identifier**: order numbers (``#W`` + digits) and email addresses they give;
- **issue**: a sentence describing a problem (damaged, broken, missing, late, refund,
  charged twice, wrong item...).

Questions are not facts ("do you ship to Canada?" says nothing durable), and nothing is
extracted from a message flagged for prompt injection (the guard decides that). With a chat
model configured the same rules run: they are cheap and keep memory writes out of the
model's hands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FactType = Literal["preference", "identifier", "issue"]

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
_MAX_FACT_CHARS = 300
_IMPORTANCE: dict[FactType, float] = {"preference": 0.8, "identifier": 0.7, "issue": 0.6}


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


def extract_facts(message: str) -> list[Fact]:
    """The durable facts stated in ``message``, each once, in a stable order."""
    facts: list[Fact] = []
    for sentence in _sentences(message):
        if sentence.endswith("?"):
            continue
        if _PREFERENCE.search(sentence):
            facts.append(_fact(f"Preference: {_clip(sentence)}", "preference"))
        elif _ISSUE.search(sentence):
            facts.append(_fact(f"Reported issue: {_clip(sentence)}", "issue"))
    for order_id in dict.fromkeys(match.upper() for match in ORDER_ID.findall(message)):
        facts.append(_fact(f"Order number: {order_id}", "identifier"))
    for email in dict.fromkeys(match.lower() for match in EMAIL.findall(message)):
        facts.append(_fact(f"Email address: {email}", "identifier"))
    return facts
