"""Bad input is rejected before any I/O with an error naming the field, never echoing input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.config import MemoryConfig
from storage.memory import InvalidMemoryInputError, Scope
from storage.memory.inputs import RecallInput, RememberInput, clean_text, parse, unit_vector

CONFIG = MemoryConfig(max_content_chars=100, max_metadata_bytes=200, max_metadata_depth=3)


def remember(**values: object) -> RememberInput:
    return parse(RememberInput, CONFIG, **{"content": "a fact", **values})


def test_control_characters_and_nul_are_stripped_but_newlines_kept() -> None:
    request = remember(content="\x00  order\x07 #12\x1b[31m3\r\nsecond line\t!\x7f\x85 ")
    assert request.content == "order #12[31m3\nsecond line\t!"


@pytest.mark.parametrize("content", ["", "   ", "\x00\x01\x02", "\n\t \x0b"])
def test_empty_after_cleaning_is_rejected(content: str) -> None:
    with pytest.raises(InvalidMemoryInputError, match="content: is empty") as error:
        remember(content=content)
    assert error.value.field == "content"
    assert error.value.code == "invalid_input"


def test_over_long_content_is_rejected_with_the_limit_not_truncated() -> None:
    with pytest.raises(InvalidMemoryInputError, match="101 characters; the limit is 100"):
        remember(content="x" * 101)


def test_metadata_must_be_json_serialisable() -> None:
    with pytest.raises(InvalidMemoryInputError, match="metadata: must be JSON-serialisable"):
        remember(metadata={"when": object()})
    with pytest.raises(InvalidMemoryInputError, match="metadata"):
        remember(metadata={"x": math.nan})


def test_metadata_size_and_depth_are_bounded() -> None:
    with pytest.raises(InvalidMemoryInputError, match="the limit is 200"):
        remember(metadata={"blob": "y" * 300})
    with pytest.raises(InvalidMemoryInputError, match="deeper than 3"):
        remember(metadata={"a": {"b": {"c": {"d": 1}}}})
    hostile: dict[str, object] = {}
    node = hostile
    for _ in range(100_000):
        node["n"] = {}
        node = node["n"]  # type: ignore[assignment]
    with pytest.raises(InvalidMemoryInputError, match="deeper than 3"):
        remember(metadata=hostile)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"content_type": "Fact"}, "content_type"),
        ({"content_type": "fact; DROP"}, "content_type"),
        ({"importance": 1.5}, "importance"),
        ({"importance": math.nan}, "importance"),
        ({"ttl_s": 0}, "ttl_s"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_other_fields_are_validated(values: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidMemoryInputError) as error:
        remember(**values)
    assert error.value.field == field


def test_recall_limit_and_content_types_are_bounded() -> None:
    with pytest.raises(InvalidMemoryInputError, match="limit: is 51; the largest allowed is 50"):
        parse(RecallInput, MemoryConfig(), query="q", limit=51)
    with pytest.raises(InvalidMemoryInputError, match="content_types"):
        parse(RecallInput, MemoryConfig(), query="q", content_types=["ok", "NOT OK"])


@pytest.mark.parametrize(
    ("tenant", "user"),
    [("", "u"), ("t", ""), ("t" * 65, "u"), ("t'; --", "u"), ("t", "a/b"), ("t", "é")],
)
def test_scope_ids_have_a_length_and_charset(tenant: str, user: str) -> None:
    with pytest.raises(InvalidMemoryInputError, match="1-64 characters") as error:
        Scope(tenant, user)
    assert error.value.field == ("tenant_id" if tenant != "t" else "user_id")


def test_like_metacharacters_are_valid_id_characters() -> None:
    assert Scope("acme%", "u_1", "s%_").user_id == "u_1"


def test_errors_never_echo_the_input() -> None:
    secret = "4111-1111-1111-1111 " * 10
    with pytest.raises(InvalidMemoryInputError) as error:
        remember(content=secret)
    assert "4111" not in str(error.value)


@pytest.mark.parametrize("vector", [[math.nan] * 3, [0.0, 0.0], [], [[1.0, 2.0]], ["a", "b"]])
def test_bad_embeddings_are_rejected(vector: object) -> None:
    with pytest.raises(InvalidMemoryInputError, match="embedding"):
        unit_vector("embedding", vector)  # type: ignore[arg-type]


def test_embeddings_are_normalised() -> None:
    assert np.isclose(np.linalg.norm(unit_vector("embedding", [3.0, 4.0])), 1.0)


@given(st.text(max_size=300))
def test_any_text_is_either_clean_and_bounded_or_a_typed_error(text: str) -> None:
    if not clean_text(text) or len(clean_text(text)) > CONFIG.max_content_chars:
        with pytest.raises(InvalidMemoryInputError, match=r"^content: "):
            remember(content=text)
        return
    request = remember(content=text)
    assert request.content == clean_text(text)
    assert 0 < len(request.content) <= CONFIG.max_content_chars
    assert not any(ord(c) < 32 and c not in "\n\t" for c in request.content)
    request.content.encode("utf-8")


def test_an_embedding_of_huge_finite_numbers_is_normalised_not_rejected() -> None:
    """Squaring float32 values near their maximum overflows float32; the norm must not."""
    vector = unit_vector("embedding", [3e38, 3e38, 0.0])
    assert np.allclose(vector, [2**-0.5, 2**-0.5, 0.0])
