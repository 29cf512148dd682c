"""The one cleaner for text that arrives from outside: customers, models, files, callers.

It runs before anything else sees the text, so no layer meets a character it cannot store or
display: lone UTF-16 surrogates (which no driver can encode), C0/C1 control characters other
than tab and newline, zero-width and bidirectional-override characters (used to hide text),
``\\r`` line ends, and runs of blank lines. NFKC folds look-alike compatibility characters
(full-width letters, ligatures), so the same words compare, hash and match as the same.
"""

from __future__ import annotations

import re
import unicodedata

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_UNWANTED = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """``text`` without unstorable or hiding characters, NFKC-normalised and trimmed."""
    text = _SURROGATES.sub("", text)
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _BLANK_LINES.sub("\n\n", _UNWANTED.sub("", text)).strip()
