"""Field types for tool input schemas: what a model may send, cleaned before any tool code runs.

Model output can carry NUL bytes, terminal escapes or megabytes of repeated text; a field of
these types strips control characters (keeping newlines and tabs), trims surrounding space
and then enforces its bounds, so the error the model gets names the real problem.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from storage import text


def clean_text(value: object) -> object:
    """``storage.text.clean_text`` for strings; anything else is left for the type check."""
    return text.clean_text(value) if isinstance(value, str) else value


def not_blank(value: str) -> str:
    if not value:
        raise ValueError("must contain visible text")
    return value


QueryText = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(max_length=2000),
    AfterValidator(not_blank),
]
ContentText = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(max_length=4000),
    AfterValidator(not_blank),
]
SourceName = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@+-]+$"),
]
