"""The chat model used when one is configured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

if TYPE_CHECKING:
    from agent.settings import ChatModelConfig


def build_chat_model(config: ChatModelConfig, model: str) -> BaseChatModel:
    """``ChatOpenAI`` on any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp).

    Client retries stay at ``config.max_retries`` (0 by default): the resilience decorator
    owns the retry budget, and retries inside it would multiply attempts.
    """
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        base_url=config.base_url,
        api_key=config.api_key or SecretStr("not-needed"),
        temperature=config.temperature,
        timeout=config.timeout_s,
        max_retries=config.max_retries,
    )
