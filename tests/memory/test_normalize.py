"""Normal form and the fingerprints the exact and near-duplicate tiers rely on."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from storage.config import MemoryConfig
from storage.memory import normalize


def _hamming(a: int, b: int) -> int:
    """Bits that differ in the two 64-bit patterns, as ``decide`` counts them."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def test_variants_share_a_normal_form_and_hash() -> None:
    forms = {
        normalize.normalize(text)
        for text in [
            "The customer prefers email",
            "  the CUSTOMER   prefers email.  ",
            "The customer prefers email!?",
            "ＴＨＥ customer prefers\temail…",
        ]
    }
    assert forms == {"the customer prefers email"}
    assert normalize.content_hash("a") != normalize.content_hash("b")


def test_simhash_ignores_punctuation_inside_and_separates_facts() -> None:
    a = normalize.simhash(normalize.normalize("Lives in Paris, France; ships to the office"))
    b = normalize.simhash(normalize.normalize("Lives in Paris France - ships to the office"))
    c = normalize.simhash(normalize.normalize("Cancelled the premium plan last week"))
    assert _hamming(a, b) == 0
    assert _hamming(a, c) > MemoryConfig().simhash_radius


@given(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sets(st.integers(min_value=0, max_value=63), max_size=8),
)
def test_the_stored_signed_hash_keeps_its_hamming_distance(value: int, flips: set[int]) -> None:
    """Postgres stores the hash signed; decide compares the stored values in numpy."""
    other = value
    for bit in flips:
        other ^= 1 << bit
    stored = np.asarray([normalize.to_signed(value)], np.int64).view(np.uint64)
    assert _hamming(normalize.to_signed(value), other) == len(flips)
    assert int(np.bitwise_count(stored ^ np.uint64(other))[0]) == len(flips)
