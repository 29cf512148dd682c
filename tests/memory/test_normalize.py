"""Normal form, fingerprints and the SimHash band guarantee the near-duplicate tier relies on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from storage.config import MemoryConfig
from storage.memory import normalize


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
    assert normalize.hamming(a, b) == 0
    assert normalize.hamming(a, c) > MemoryConfig().simhash_radius


def test_the_radius_setting_never_exceeds_what_the_bands_guarantee() -> None:
    limit = next(
        m.le for m in MemoryConfig.model_fields["simhash_radius"].metadata if hasattr(m, "le")
    )
    assert limit == normalize.MAX_RADIUS


@given(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sets(st.integers(min_value=0, max_value=63), max_size=normalize.MAX_RADIUS),
)
def test_hashes_within_the_radius_always_share_a_band(value: int, flips: set[int]) -> None:
    other = value
    for bit in flips:
        other ^= 1 << bit
    assert normalize.hamming(normalize.to_signed(value), other) == len(flips)
    assert any(x == y for x, y in zip(normalize.bands(value), normalize.bands(other), strict=True))


def test_numbers_guard() -> None:
    assert normalize.same_numbers("order 1042 on monday", "Monday: order 1042")
    assert not normalize.same_numbers("order 1042", "order 1043")
    assert not normalize.same_numbers("refund 12.50", "refund 12.5")
