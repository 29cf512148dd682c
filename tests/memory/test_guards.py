"""The guard tier and slot recognition: two facts that differ in one detail are never one.

Property tests generate the look-alike pairs a merge must never join (a number, a negation,
a direction, a person changed in the same sentence) and check the guard catches every one;
the slot cases pin the attributes a correction is recognised by.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.memory import guards, slots

TEMPLATES = [
    "The customer {verb} order {n} on {day}",
    "{name} from support {verb} the refund of {n} dollars",
    "Prices {verb} by {n} percent in {day}",
]
NAMES = ["John", "Mary", "Ahmed", "Sofia", "Chen", "Olga"]
DIRECTIONS = [("rise", "fall"), ("approved", "rejected"), ("opened", "closed"), ("likes", "hates")]
fillers = st.fixed_dictionaries(
    {
        "verb": st.sampled_from(["cancelled", "returned", "paid", "changed"]),
        "n": st.integers(1, 99_999).map(str),
        "day": st.sampled_from(["Monday", "Friday", "May", "June"]),
        "name": st.sampled_from(NAMES),
    }
)


@given(st.sampled_from(TEMPLATES), fillers, st.integers(1, 99_999))
def test_a_changed_number_is_another_fact(template: str, fill: dict, other: int) -> None:
    a = template.format(**fill)
    b = template.format(**{**fill, "n": str(other)})
    assert guards.same_fact(a, b) == (str(other) == fill["n"])


@given(st.sampled_from(TEMPLATES), fillers)
def test_a_negated_sentence_is_another_fact(template: str, fill: dict) -> None:
    a = template.format(**fill)
    assert "negation" in guards.differences(a, f"It is not true that {a[0].lower()}{a[1:]}")
    assert "negation" in guards.differences(a, a.replace(fill["verb"], "never " + fill["verb"]))


@given(st.sampled_from(DIRECTIONS), st.sampled_from(["Rates", "The customer", "Support"]))
def test_an_opposite_word_is_another_fact(pair: tuple[str, str], subject: str) -> None:
    a, b = (f"{subject} {word} the plan on Monday" for word in pair)
    assert "direction" in guards.differences(a, b)
    assert guards.same_fact(a, a + ".")


@given(st.sampled_from(NAMES), st.sampled_from(NAMES))
def test_another_person_is_another_fact(first: str, second: str) -> None:
    a = f"{first} approved the refund for the customer"
    b = f"{second} approved the refund for the customer"
    assert guards.same_fact(a, b) == (first == second)


def test_numbers_are_compared_as_written() -> None:
    assert guards.same_fact("order 1042 on monday", "Monday: order 1042")
    assert "number" in guards.differences("refund 12.50", "refund 12.5")
    assert "number" in guards.differences("call after 9am", "call after 9pm")


def test_an_added_name_alone_is_not_a_substitution() -> None:
    assert guards.same_fact("Obama signs the bill", "President Obama signs the bill")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Please only contact me by email, never by phone",
            {"contact_preference": "email+ phone-"},
        ),
        ("My phone number is 503-555-0147", {"phone": "5035550147"}),
        ("My email address is Jane@Example.com", {"email": "jane@example.com"}),
        (
            "I moved to 48 Pine Avenue, Salem 97301",
            {"address:default": "48 pine avenue salem 97301"},
        ),
        ("My name is Jonathan", {"name": "jonathan"}),
        ("My T-shirt size is M", {"size:tshirt": "m"}),
        ("My shoe size is 42", {"size:shoe": "42"}),
        ("I'm allergic to latex", {"allergy:latex": "+"}),
        ("I am no longer allergic to latex", {"allergy:latex": "-"}),
        ("I prefer to pay by card", {"payment_preference": "+card"}),
        ("Please reply in Spanish", {"language": "spanish"}),
        ("Please unsubscribe me from the newsletter", {"subscription:newsletter": "-"}),
        ("Leave parcels at the back door", {"delivery_instructions": "leave parcels at back door"}),
        ("The blender stopped working after a week", {}),
        ("Call me Bob", {"name": "bob"}),
        ("Text me at 503-555-0100", {"contact_preference": "sms+", "phone": "5035550100"}),
        ("Please stop sending me the newsletter", {"subscription:newsletter": "-"}),
    ],
)
def test_slots_a_correction_is_recognised_by(text: str, expected: dict[str, str]) -> None:
    assert slots.recognise(text) == expected


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        ("I have a cat", "I have a dog", True),
        ("I also have a cat", "I have a dog", True),
        ("I'm allergic to peanuts", "I'm allergic to latex", True),
        ("My shoe size is 42", "My T-shirt size is M", True),
        ("I live in Seattle", "I live in Seattle", True),
        ("I now live in Portland", "I live in Seattle", False),
        ("I switched to a Mac", "I use Windows", False),
        ("My favourite colour is now green", "My favourite colour is blue", False),
        ("I have 2 dogs", "I have 1 dog", False),
        ("I no longer have a dog", "I have a dog", False),
    ],
)
def test_both_hold_when_nothing_says_the_new_fact_changes_the_old(
    new: str, old: str, expected: bool
) -> None:
    assert guards.both_hold(new, old) is expected
