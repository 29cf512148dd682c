"""Scrubbing of personal data and secrets from anything written to logs or traces.

Support conversations are full of e-mail addresses, phone and card numbers; logs are kept
longer and read by more people than the database, so they never get the raw values. This
is the one rule set: log processors, span exporters, health output and CLI errors all call
it, so a rule added here protects every outlet at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]*(?::[^\s/@]*)?@")
PROVIDER_KEY = re.compile(r"\b(?:sk|pk|rk|ls|lsv2)[-_][A-Za-z0-9_-]{8,}")
SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s|$)", re.DOTALL)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9._-]+\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w.])\+?\d[\d ().-]{7,}\d(?![\w.])")
BEARER = re.compile(
    r"(?i)\b(\w*(?:bearer|token|api[_-]?key|password|secret|signature))\b([\"'=:\s]+)([^\s\"',;&]+)"
)
SECRET_KEYS = re.compile(
    r"(?i)(password|passwd|secret|token(?!s)|api[_-]?key|authorization|cookie)"
)


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[phone]" if 9 <= digits <= 15 else match.group(0)


_known_secrets: set[str] = set()


def register_secrets(values: Iterable[SecretStr | str | None]) -> None:
    """Remember configured secret values, so they are hidden wherever they are echoed
    (a provider's error message quoting the key, a URL built from settings)."""
    for value in values:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw and len(raw) >= 4:
            _known_secrets.add(raw)


def redact_text(text: str) -> str:
    """Replace credentials, e-mails, card and phone numbers with placeholders."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    text = URL_CREDENTIALS.sub(r"\1[redacted]@", text)
    text = SQL_PARAMETERS.sub("[parameters: redacted]", text)
    text = PROVIDER_KEY.sub("[redacted]", text)
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
