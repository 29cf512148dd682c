"""One customer's data across every backend: export (portability, GDPR art. 20) and
erasure (art. 17).

Erasure: memories (rows, vectors, superseded rows, audit entries), tickets with their events,
access-log entries, the customer's conversation checkpoints and, when a LangGraph server is
configured, their threads and store items there (``agent.server_data``) are deleted; the
receipt counts what went from each backend. Each backend is purged in its own transaction,
and every step is idempotent, so a purge interrupted part-way is completed by running it
again. The knowledge-base cache holds only article text keyed by query hashes, so it holds no
copy of the customer's data.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from agent.server_data import aexport_server, apurge_server
from storage.checkpoints import (
    adelete_threads_of,
    aopen_checkpointer,
    athread_messages,
    athreads_of,
)
from storage.engine import WAL_TRUNCATE
from tools.audit import read_entries
from tools.runtime import CallerScope

if TYPE_CHECKING:
    from agent.services import Services


async def apurge_customer(
    services: Services, tenant_id: str, user_id: str
) -> dict[str, dict[str, int]]:
    """Erase everything stored about (tenant, user); returns counts per backend."""
    settings = services.settings
    sqlite = services.database.backend == "sqlite"
    memory = await services.memory.apurge(tenant_id, user_id)
    tickets = await services.tickets.apurge(tenant_id, user_id)
    async with aopen_checkpointer(settings.database, settings.data_dir, services.keyring) as saver:
        if sqlite:
            await saver.conn.execute("PRAGMA secure_delete=ON")  # type: ignore[attr-defined]
        threads = await adelete_threads_of(saver, tenant_id, user_id)
        if sqlite:
            await saver.conn.execute(WAL_TRUNCATE)  # type: ignore[attr-defined]
    access = await services.access_log.apurge(tenant_id, user_id)
    await services.database.atruncate_wal()
    receipt = {
        services.database.backend: {**memory, "tickets": tickets, "access_log": access},
        "checkpoints": {"threads": threads},
    }
    if settings.server.url is not None:
        receipt["server"] = await apurge_server(settings, tenant_id, user_id)
    return receipt


async def aexport_customer(services: Services, tenant_id: str, user_id: str) -> dict[str, Any]:
    """Everything we hold about (tenant, user) that is theirs: memories, tickets, their
    conversations (checkpoints, and the LangGraph server's when one is configured) and who
    read their data. The export itself is written to the access log."""
    settings = services.settings
    memories = await services.memory.aexport(tenant_id, user_id)
    tickets = await services.tickets.afor_customer(tenant_id, user_id)
    conversations = await _checkpointed_conversations(services, tenant_id, user_id)
    server = (
        await aexport_server(settings, tenant_id, user_id)
        if settings.server.url is not None
        else {"conversations": [], "store_items": []}
    )
    reads = await services.access_log.afor_customer(tenant_id, user_id)
    operator = CallerScope(tenant_id, role="admin")  # the CLI's operator has no user id
    for entry in read_entries(operator, "export", [user_id]):
        await services.access_log.arecord(**entry)
    return {
        "conversations": conversations + server["conversations"],
        "store_items": server["store_items"],
        "access_log": reads,
        **memories,
        "tickets": [
            {
                **dataclasses.asdict(ticket),
                "sla_due_at": ticket.sla_due_at.isoformat(),
                "created_at": ticket.created_at.isoformat(),
            }
            for ticket in tickets
        ],
    }


async def _checkpointed_conversations(
    services: Services, tenant_id: str, user_id: str
) -> list[dict[str, Any]]:
    settings = services.settings
    async with aopen_checkpointer(settings.database, settings.data_dir, services.keyring) as saver:
        return [
            {
                "thread_id": thread_id,
                "messages": [
                    {"role": message.type, "text": message.text}
                    for message in await athread_messages(saver, thread_id)
                ],
            }
            for thread_id in await athreads_of(saver, tenant_id, user_id)
        ]
