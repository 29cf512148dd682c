"""The escalation detector on realistic customer messages, including ones that must not fire."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agent.settings import Settings
from tools.config import EscalationConfig
from tools.escalation import detect_escalation

ESCALATE = [
    ("Let me talk to a human.", "human_request"),
    ("Can I speak to a real person please? This bot keeps looping.", "human_request"),
    ("I want to speak to a manager right now", "human_request"),
    ("Transfer me to a live agent", "human_request"),
    ("Get me a representative.", "human_request"),
    ("This is completely unacceptable, I've waited three weeks!", "anger"),
    ("I'm fed up with your company", "anger"),
    ("WHERE IS MY ORDER I PAID TWO WEEKS AGO, THIS IS UNACCEPTABLE", "anger"),
    ("you are a useless bot", "abuse"),
    ("What the fuck is going on with my refund", "abuse"),
    ("wtf, charged twice??", "abuse"),
    ("I will contact my lawyer about this charge", "legal"),
    ("See you in court.", "legal"),
    ("If this isn't fixed I'll sue you", "legal"),
    ("I'm filing a chargeback with my bank", "legal"),
    ("I want all my data deleted under GDPR", "legal"),
    ("The charger you sold me caught fire last night", "safety"),
    ("My son got an electric shock from the lamp", "safety"),
    ("The heater exploded and my hand is burned", "safety"),
    ("The bottle cap broke and my daughter was choking on a piece", "safety"),
]

MUST_NOT_ESCALATE = [
    "can I talk about my order status?",
    "Where is my order #W2611340?",
    "Hi, I'd like to return the office chair I bought.",
    "What is your return policy for opened items?",
    "I'm a manager at a small business and want to order 20 chairs.",
    "Can you tell me about the issue you mentioned earlier?",
    "Thanks, that solved it!",
    "The representative sample of colours on the website looks nice.",
    "Is the fire pit on sale?",
    "Please change my shipping address to 12 Court Street.",
    "I don't need a real person, just give me the tracking number.",
    "How long does a refund to a gift card take?",
    "Do you ship to Canada?",
    "I love this water bottle, it's great.",
]


@pytest.mark.parametrize(("message", "kind"), ESCALATE)
def test_escalating_messages_fire_with_a_reason(message: str, kind: str) -> None:
    signals = detect_escalation(message)
    assert kind in {s.kind for s in signals}
    signal = next(s for s in signals if s.kind == kind)
    assert signal.reason.startswith("the customer")
    assert signal.to_dict()["kind"] == kind


@pytest.mark.parametrize("message", MUST_NOT_ESCALATE)
def test_ordinary_messages_do_not_escalate(message: str) -> None:
    assert detect_escalation(message) == []


def test_safety_is_urgent_and_comes_first() -> None:
    signals = detect_escalation("This is ridiculous, the toaster caught fire, get me a human")
    assert [s.kind for s in signals] == ["safety", "anger", "human_request"]
    assert signals[0].priority == "urgent"


def test_repeated_failure_counts_history_and_failed_tools() -> None:
    history = [
        HumanMessage("My tracking number doesn't work"),
        AIMessage("Try the carrier's site."),
        HumanMessage("That didn't help, still not working"),
        AIMessage("Let me check."),
    ]
    assert [s.kind for s in detect_escalation("Still broken.", history)] == ["repeated_failure"]
    assert detect_escalation("Still broken.", history[:1]) == []
    failed = [ToolMessage('{"error": {}}', tool_call_id="1", status="error")]
    assert [s.kind for s in detect_escalation("any news?", failed, failed_turns=1)] == [
        "repeated_failure"
    ]
    dict_history = [{"role": "user", "content": "this did not help"}]
    assert detect_escalation("nothing works", dict_history)[0].kind == "repeated_failure"
    assert detect_escalation("nothing works", dict_history, failure_limit=3) == []


def test_open_breaker_on_a_critical_dependency_escalates() -> None:
    states = {"crm": "open", "knowledge_base": "open", "llm": "closed"}
    signals = detect_escalation("Where is my order?", breaker_states=states)
    assert [(s.kind, s.matched) for s in signals] == [("dependency_unavailable", "crm")]
    assert detect_escalation("hi", breaker_states={"crm": "half-open"}) == []
    assert detect_escalation("hi", open_breakers=["tickets"])[0].matched == "tickets"


@pytest.mark.parametrize(
    "value",
    ['["barking mad", "go away"]', "barking mad, go away", ["barking mad", "go away"]],
)
def test_keyword_lists_accept_json_csv_or_list(value: object) -> None:
    config = EscalationConfig(anger_words=value)
    assert config.anger_words == ["barking mad", "go away"]
    assert [s.kind for s in detect_escalation("You are BARKING mad", config=config)] == ["anger"]
    assert detect_escalation("this is ridiculous", config=config) == []


def test_keyword_lists_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    monkeypatch.setenv("SUPPORT_ESCALATION__LEGAL_WORDS", "ombudsman, trading standards")
    monkeypatch.setenv("SUPPORT_ESCALATION__HUMAN_REQUEST_PHRASES", '["put me through"]')
    settings = make_settings()
    assert settings.escalation.legal_words == ["ombudsman", "trading standards"]
    signals = detect_escalation(
        "Put me through or I go to the Ombudsman", config=settings.escalation
    )
    assert {s.kind for s in signals} == {"human_request", "legal"}
    assert detect_escalation("put me through", config=EscalationConfig())[0].kind == (
        "human_request"
    ), "the built-in grammar stays on beside the configured phrases"
