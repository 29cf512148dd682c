"""Prompt-injection markers: what the guard node flags in a message (and retrieve in a passage).

Cleaning the text itself is ``storage.text.clean_text``, the one cleaner. Prompt-injection detection here is a tripwire, not a defence: the markers are the phrasings
seen in public injection corpora ("ignore previous instructions", fake role headers...). A
flagged user message is still answered, but nothing from it is remembered (memory poisoning
would outlive the turn), and a flagged knowledge-base passage is dropped from the answer:
retrieved text is data, never instructions.
"""

from __future__ import annotations

import re

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


def injection_markers(text: str) -> list[str]:
    """Names of the injection markers found in ``text`` (empty: none)."""
    return [name for name, pattern in INJECTION_MARKERS.items() if pattern.search(text)]
