"""The chat model's health: the endpoint answers, accepts the key and serves the model.

It lists the endpoint's models (``GET /models``) rather than asking for a completion, so a
probe costs no tokens; every OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp)
implements it. An unreachable endpoint or a refused key marks the check down, a model the
endpoint does not list marks it degraded.
"""

from __future__ import annotations

from typing import Any

import openai

from agent.health import Degraded
from agent.settings import ChatModelConfig


async def check_chat_model(config: ChatModelConfig) -> dict[str, Any]:
    key = config.api_key.get_secret_value() if config.api_key is not None else "not-needed"
    client = openai.AsyncOpenAI(
        api_key=key, base_url=config.base_url, timeout=config.timeout_s, max_retries=0
    )
    try:
        served = [model.id async for model in client.models.list()]
    finally:
        await client.close()
    if config.model not in served:
        raise Degraded(
            f"the endpoint does not list the model {config.model}",
            {"model": config.model, "listed": len(served)},
        )
    return {"model": config.model}
