"""Middleware fixtures: a scripted chat model ``create_agent`` can bind tools to, and real
services on the embedded defaults for memory and hand-off tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from agent.services import Services
from agent.settings import Settings, load_settings


class ScriptedModel(GenericFakeChatModel):
    """LangChain's ``GenericFakeChatModel`` that accepts tools (``create_agent`` binds them)
    and records the messages of every call, system prompt included."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(*replies: BaseMessage) -> ScriptedModel:
    return ScriptedModel(messages=iter(replies))


def call(name: str, args: dict[str, Any], call_id: str | None = None) -> AIMessage:
    call_id = call_id or f"call-{uuid.uuid4().hex[:8]}"
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


@pytest.fixture(scope="session")
def middleware_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(environment="test", data_dir=tmp_path_factory.mktemp("mw") / "data")


@pytest.fixture(scope="session")
async def services(middleware_settings: Settings) -> AsyncIterator[Services]:
    async with await Services.open(middleware_settings) as opened:
        yield opened


@pytest.fixture(autouse=True)
def _breakers_closed_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that trips a breaker of the shared services must not leak it to the next."""
    yield
    if "services" in request.fixturenames:
        services: Services = request.getfixturevalue("services")
        for name in services.resilience.status()["breakers"]:
            services.resilience.breaker(name).close()


@pytest.fixture
def user() -> str:
    return f"user_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def thread() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"
