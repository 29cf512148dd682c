"""Scrubbing of personal data and secrets from anything written to logs or traces.

Support conversations are full of e-mail addresses, phone and card numbers; logs are kept
longer and read by more people than the database, so they never get the raw values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9._-]+\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w.])\+?\d[\d ().-]{7,}\d(?![\w.])")
BEARER = re.compile(r"(?i)\b(bearer|token|api[_-]?key|password|secret)\b([\"'=:\s]+)([^\s\"',;]+)")
SECRET_KEYS = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|authorization|cookie)")


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[phone]" if 9 <= digits <= 15 else match.group(0)


def redact_text(text: str) -> str:
    """Replace e-mails, card and phone numbers and inline credentials with placeholders."""
    text = EMAIL.sub("[email]", text)
    text = CARD.sub("[card]", text)
    text = PHONE.sub(_phone, text)
    return BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


def redact(value: Any, key: str = "") -> Any:
    """Redact a log field recursively; values under secret-looking keys are dropped whole."""
    if key and SECRET_KEYS.search(key):
        return "[redacted]"
    if isinstance(value, SecretStr):
        return "[redacted]"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value
