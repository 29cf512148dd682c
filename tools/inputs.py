"""Field types for tool input schemas: what a model may send, cleaned before any tool code runs.

Model output can carry NUL bytes, terminal escapes or megabytes of repeated text; a field of
these types strips control characters (keeping newlines and tabs), trims surrounding space
and then enforces its bounds, so the error the model gets names the real problem.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(value: object) -> object:
    """Remove control characters and surrounding whitespace from a string (others pass)."""
    if isinstance(value, str):
        return _CONTROL.sub("", value).strip()
    return value


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must contain visible text")
    return value


QueryText = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(max_length=2000),
    AfterValidator(_not_blank),
]
ContentText = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(max_length=4000),
    AfterValidator(_not_blank),
]
Identifier = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@+-]+$"),
]
