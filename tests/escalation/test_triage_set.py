"""Triage on a labelled set of customer messages: it hears requests for a person in many
phrasings and typos, and lets the bot answer the near-misses that used to open tickets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.escalation import detect_escalation
from tools.escalation.phrasing import is_small_talk

from .triage_set import HUMAN_REQUESTS, ORDINARY, SMALL_TALK


def _asks_for_human(message: str) -> bool:
    return any(s.kind == "human_request" for s in detect_escalation(message))


def test_recall_of_requests_for_a_person_is_at_least_95_percent() -> None:
    missed = [m for m in HUMAN_REQUESTS if not _asks_for_human(m)]
    recall = 1 - len(missed) / len(HUMAN_REQUESTS)
    assert recall >= 0.95, f"recall {recall:.3f}; missed: {missed}"


def test_false_alarms_on_ordinary_messages_are_at_most_1_percent() -> None:
    alarms = {m: [s.kind for s in detect_escalation(m)] for m in ORDINARY}
    fired = {m: kinds for m, kinds in alarms.items() if kinds}
    assert len(fired) / len(ORDINARY) <= 0.01, fired


@pytest.mark.parametrize(
    "message",
    [
        "CAN YOU TELL ME WHEN MY PARCEL WILL ARRIVE PLEASE?",
        "Do you ship to Canada?!!",
        "transfer £50 to savings",
        "My travel agent booked this for me, can I change the date?",
        "Another person can collect it for me, is that allowed?",
        "This jacket is fucking amazing, thanks!",
        'I read that "97% of orders arrive within 3 days" - is that true for Canada?',
        "hello",
        "Thank you!",
    ],
)
def test_the_near_misses_from_the_issue_are_left_to_the_bot(message: str) -> None:
    assert detect_escalation(message) == []


def test_swearing_in_a_complaint_still_escalates() -> None:
    assert [s.kind for s in detect_escalation("where the fuck is my refund")] == ["abuse"]


def test_a_greeting_or_thanks_after_failed_turns_never_escalates() -> None:
    complaints = [{"role": "user", "content": "that did not help"}] * 3
    for message in SMALL_TALK:
        assert detect_escalation(message, complaints, failed_turns=2) == [], message
    signals = detect_escalation("and the refund?", complaints, failed_turns=2)
    assert [s.kind for s in signals] == ["repeated_failure"]


@pytest.mark.parametrize("message", SMALL_TALK)
def test_small_talk_is_told_apart_from_questions(message: str) -> None:
    assert is_small_talk(message)


@pytest.mark.parametrize(
    "message", ["hello, where is my order?", "thanks, but it still doesn't work", "no", "help"]
)
def test_a_question_or_complaint_is_not_small_talk(message: str) -> None:
    assert not is_small_talk(message)


@given(st.sampled_from(HUMAN_REQUESTS), st.randoms(use_true_random=False))
def test_letter_case_never_changes_a_request(message: str, rng: object) -> None:
    mixed = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in message)  # type: ignore[attr-defined]
    assert _asks_for_human(mixed) == _asks_for_human(message)


@given(st.sampled_from(HUMAN_REQUESTS))
def test_a_request_the_customer_only_quotes_is_not_theirs(message: str) -> None:
    quoted = f'My friend wrote "{message.replace(chr(34), "")}" in a review. How do refunds work?'
    assert not _asks_for_human(quoted)
