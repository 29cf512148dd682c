"""Input hygiene for one turn: what the guard node checks before anything touches storage.

Prompt-injection detection here is a tripwire, not a defence: the markers are the phrasings
seen in public injection corpora ("ignore previous instructions", fake role headers...). A
flagged user message is still answered, but nothing from it is remembered (memory poisoning
would outlive the turn), and a flagged knowledge-base passage is dropped from the answer:
retrieved text is data, never instructions.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_BLANK_LINES = re.compile(r"\n{3,}")

INJECTION_MARKERS: dict[str, re.Pattern[str]] = {
    "ignore_instructions": re.compile(
        r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|your)\b"
        r"[^.\n]{0,20}\b(instructions?|rules|prompts?|guidelines)\b",
        re.IGNORECASE,
    ),
    "role_override": re.compile(
        r"\b(you are now|act as (an? )?(unrestricted|jailbroken|dan)|developer mode|jailbreak)\b",
        re.IGNORECASE,
    ),
    "prompt_exfiltration": re.compile(
        r"\b(reveal|print|show|repeat|leak)\b[^.\n]{0,30}\b(system|hidden|initial)\s+(prompt|instructions)\b",
        re.IGNORECASE,
    ),
    "fake_role_header": re.compile(
        r"(^|\n)\s*(system|assistant|developer)\s*:|<\s*/?\s*(system|assistant|im_start|im_end)\b|\[/?INST\]",
        re.IGNORECASE,
    ),
    "tool_hijack": re.compile(
        r"\b(call|invoke|run|execute)\b[^.\n]{0,20}\b(tool|function)\b[^.\n]{0,40}\b(with|using)\b",
        re.IGNORECASE,
    ),
}


def sanitize(text: str) -> str:
    """NFKC-normalise, drop control and bidi-override characters, trim blank runs."""
    normalized = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    cleaned = _CONTROL.sub("", normalized)
    return _BLANK_LINES.sub("\n\n", cleaned).strip()


def injection_markers(text: str) -> list[str]:
    """Names of the injection markers found in ``text`` (empty: none)."""
    return [name for name, pattern in INJECTION_MARKERS.items() if pattern.search(text)]
