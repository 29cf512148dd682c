"""A customer's conversations and store items on the LangGraph server, through its API.

Export and erasure reach the server the way any client does, with ``langgraph-sdk``: threads
are found by the owner our auth stamps into their metadata, and by the owner the graph
records in their state (``values.owner``), which also covers threads created by LangGraph
Studio on ``langgraph dev``, where nothing is stamped. Deleting a thread deletes its runs and
checkpoints on the server.

With ``SUPPORT_SERVER__API_KEY`` set, the key must be an admin key of the customer's tenant:
the server only shows an admin their own tenant, so any other key would find nothing and
erasure would silently miss. It is checked against the configured key list first. Without a
key the client connects as Studio, which only a ``langgraph dev`` server accepts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from agent.credentials import Verifier
from agent.settings import Settings

PAGE = 100


class ServerAccessError(RuntimeError):
    """The configured server key cannot reach this tenant's data; the message says why."""


@contextlib.asynccontextmanager
async def server_client(settings: Settings, tenant_id: str) -> AsyncIterator[LangGraphClient]:
    config = settings.server
    if config.url is None:
        raise ServerAccessError("no LangGraph server configured (SUPPORT_SERVER__URL)")
    if config.api_key is None:
        headers = {"x-auth-scheme": "langsmith"}
    else:
        api_key = config.api_key.get_secret_value()
        principal = Verifier.from_config(settings.auth).verify(api_key)
        if principal.role != "admin" or principal.tenant_id != tenant_id:
            raise ServerAccessError(
                f"SUPPORT_SERVER__API_KEY must be an admin key of tenant {tenant_id}"
            )
        headers = {"Authorization": f"Bearer {api_key}"}
    client = get_client(url=config.url, headers=headers)
    try:
        yield client
    finally:
        await client.aclose()


async def _threads_of(
    client: LangGraphClient, tenant_id: str, user_id: str
) -> list[dict[str, Any]]:
    owner = {"tenant_id": tenant_id, "user_id": user_id}
    found: dict[str, dict[str, Any]] = {}
    for where in ({"metadata": owner}, {"values": {"owner": owner}}):
        offset = 0
        while True:
            page = await client.threads.search(**where, limit=PAGE, offset=offset)
            found.update((thread["thread_id"], thread) for thread in page)
            if len(page) < PAGE:
                break
            offset += PAGE
    return list(found.values())


async def _store_items(
    client: LangGraphClient, tenant_id: str, user_id: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await client.store.search_items((tenant_id, user_id), limit=PAGE, offset=len(items))
        items.extend(page["items"])
        if len(page["items"]) < PAGE:
            return items


async def aexport_server(settings: Settings, tenant_id: str, user_id: str) -> dict[str, Any]:
    """The customer's conversations (messages of each thread) and store items."""
    async with server_client(settings, tenant_id) as client:
        conversations = []
        for thread in await _threads_of(client, tenant_id, user_id):
            values = thread.get("values") or {}
            messages = (values.get("messages") or []) if isinstance(values, dict) else []
            conversations.append(
                {
                    "thread_id": thread["thread_id"],
                    "created_at": thread.get("created_at"),
                    "messages": [
                        {"role": m.get("type"), "text": m.get("content")} for m in messages
                    ],
                }
            )
        items = await _store_items(client, tenant_id, user_id)
    return {"conversations": conversations, "store_items": items}


async def apurge_server(settings: Settings, tenant_id: str, user_id: str) -> dict[str, int]:
    """Delete the customer's threads (with their runs and checkpoints) and store items."""
    async with server_client(settings, tenant_id) as client:
        threads = await _threads_of(client, tenant_id, user_id)
        for thread in threads:
            await client.threads.delete(thread["thread_id"])
        items = await _store_items(client, tenant_id, user_id)
        for item in items:
            await client.store.delete_item(tuple(item["namespace"]), item["key"])
    return {"threads": len(threads), "store_items": len(items)}
