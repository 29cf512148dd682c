"""The chat model used when one is configured."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field, SecretStr


class ChatModelConfig(BaseModel):
    model: str | None = Field(
        default=None,
        description="Chat model name (e.g. gpt-4o-mini). Empty: the offline extractive responder.",
    )
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp...)."
    )
    api_key: SecretStr | None = Field(default=None, description="API key for the chat model.")
    temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature.")
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="Per-request timeout.")
    max_retries: int = Field(
        default=0, ge=0, le=5, description="Client retries (the resilience layer retries)."
    )


def build_chat_model(config: ChatModelConfig, model: str, **options: Any) -> BaseChatModel:
    """``ChatOpenAI`` on any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp).

    Client retries stay at ``config.max_retries`` (0 by default): the resilience decorator
    owns the retry budget, and retries inside it would multiply attempts. ``timeout_s`` is
    the client's timeout for every connect and read, so when streaming it bounds the wait
    for the first token and between tokens; the ``llm`` policy bounds a whole attempt by
    the same value (``tools.resilience.config.kind_defaults``). ``options`` are
    further ``ChatOpenAI`` fields (``seed``, ``http_async_client``: the evaluation harness
    pins sampling and injects network faults through them).
    """
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=model,
        base_url=config.base_url,
        api_key=config.api_key or SecretStr("not-needed"),
        temperature=config.temperature,
        timeout=config.timeout_s,
        max_retries=config.max_retries,
        **options,
    )
