"""The hand-off payloads and resume answers, without a graph: LangChain's HITL types,
Agent Inbox's, and any value a client may resume with."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain.agents.middleware.human_in_the_loop import HITLRequest, HITLResponse
from langgraph.prebuilt.interrupt import HumanInterrupt, HumanResponse
from pydantic import TypeAdapter

from tools.errors import InvalidInputError
from tools.middleware import HandoffDecision, handoff_request, read_decision, to_agent_inbox

TICKET = {"ticket_id": "tk_1", "priority": "high", "sla_due_at": "2026-12-05T22:00:00+00:00"}
ARGS = {"reason": "anger", "summary": "Angry about a late order."}


def test_the_request_validates_against_both_schemas() -> None:
    request = handoff_request("escalate_to_human", ARGS, TICKET)
    assert TypeAdapter(HITLRequest).validate_python(request) == request
    inbox = to_agent_inbox(request)
    assert TypeAdapter(list[HumanInterrupt]).validate_python(inbox) == inbox
    assert inbox[0]["action_request"]["args"]["ticket"] == TICKET
    assert "tk_1" in (inbox[0]["description"] or "")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"decisions": [{"type": "respond", "message": " Hi "}]}, HandoffDecision("respond", "Hi")),
        ({"decisions": [{"type": "approve"}]}, HandoffDecision("approve")),
        ({"type": "reject", "message": "not needed"}, HandoffDecision("reject", "not needed")),
        ([{"type": "response", "args": "Hello"}], HandoffDecision("respond", "Hello")),
        ([{"type": "accept", "args": None}], HandoffDecision("approve")),
        ({"type": "ignore", "args": None}, HandoffDecision("reject")),
        ("Plain reply", HandoffDecision("respond", "Plain reply")),
        (
            {"type": "respond", "message": "Hi", "agent": "\u200b"},
            HandoffDecision("respond", "Hi"),
        ),
        (
            {"type": "respond", "message": "Hi", "agent": " Sam "},
            HandoffDecision("respond", "Hi", "Sam"),
        ),
    ],
)
def test_answers_in_either_schema_are_read(answer: Any, expected: HandoffDecision) -> None:
    assert read_decision(answer) == expected


def test_the_documented_answers_are_valid_in_their_schemas() -> None:
    TypeAdapter(HITLResponse).validate_python({"decisions": [{"type": "respond", "message": "x"}]})
    TypeAdapter(HumanResponse).validate_python({"type": "response", "args": "x"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "message", "args", "decisions", "agent", "x"]),
            children
            | st.sampled_from(["respond", "approve", "reject", "response", "accept", "edit"]),
            max_size=3,
        )
    ),
    max_leaves=10,
)


@given(json_values)
def test_any_resume_value_is_a_decision_or_a_structured_error(answer: Any) -> None:
    try:
        decision = read_decision(answer)
    except InvalidInputError as exc:
        error = exc.to_dict()
        decision = None
    if decision is None:
        assert error["code"] == "invalid_input"
        assert error["retryable"] is False
        return
    assert decision.type in ("respond", "approve", "reject")
    if decision.type == "respond":
        assert decision.reply
        assert decision.reply == decision.reply.strip()
