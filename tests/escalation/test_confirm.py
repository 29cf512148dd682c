"""A configured chat model may overrule borderline triage signals, never certain ones."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tools.escalation import detect_escalation
from tools.escalation.confirm import aconfirm_signals


def _model(*replies: str) -> Any:
    return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies])).ainvoke


async def test_the_model_can_drop_a_borderline_request() -> None:
    signals = detect_escalation("speek to a manger")
    assert signals[0].borderline
    assert await aconfirm_signals(_model("No."), "speek to a manger", signals) == []
    assert await aconfirm_signals(_model("Yes"), "speek to a manger", signals) == signals


async def test_a_certain_request_is_never_put_to_the_model() -> None:
    signals = detect_escalation("I want to talk to a human")
    assert not signals[0].borderline
    model = _model()  # would raise StopIteration if asked
    assert await aconfirm_signals(model, "I want to talk to a human", signals) == signals


async def test_a_failing_or_unclear_model_leaves_the_detector_in_charge() -> None:
    message = "where the fuck is my refund"
    signals = detect_escalation(message)
    assert signals[0].borderline
    assert await aconfirm_signals(_model(), message, signals) == signals
    assert await aconfirm_signals(_model("maybe"), message, signals) == signals
