"""The correction judge's bounds that need no model server: what it never asks about."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from tools.correction_judge import CorrectionJudge, verdicts
from tools.errors import DependencyError


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    async def neighbours(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls.append("neighbours")
        if self.fail:
            raise DependencyError("memory failed", dependency="memory")
        return []

    async def ask(self, messages: Any) -> Any:
        self.calls.append("ask")
        return {"parsed": None}


@pytest.mark.parametrize("content_type", ["identifier", "issue", "episode", "session"])
async def test_types_no_later_fact_makes_untrue_are_never_judged(content_type: str) -> None:
    seen = Recorder()
    judge = CorrectionJudge(seen.neighbours, seen.ask)
    assert await judge.outdated("Order number: #W1000101", content_type) == ()
    assert seen.calls == []


async def test_a_failed_lookup_asks_no_model() -> None:
    seen = Recorder(fail=True)
    judge = CorrectionJudge(seen.neighbours, seen.ask)
    assert await judge.outdated("I now live in Portland", "fact") == ()
    assert seen.calls == ["neighbours"]


def test_a_model_without_tool_calling_is_no_judge() -> None:
    assert verdicts(GenericFakeChatModel(messages=iter([]))) is None
