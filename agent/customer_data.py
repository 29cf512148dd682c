"""One customer's data across every backend: export (portability, GDPR art. 20) and
erasure (art. 17).

Erasure: memories (rows, vectors, SimHash bands, audit entries), tickets with their events, and the
customer's conversation checkpoints are deleted; the result counts what went from each
backend. Each backend is purged in its own transaction, and every step is idempotent, so a
purge interrupted part-way is completed by running it again. The knowledge-base cache holds
only article text keyed by query hashes, so it holds no copy of the customer's data.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from storage.checkpoints import adelete_threads_of, aopen_checkpointer
from storage.engine import WAL_TRUNCATE

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
    async with aopen_checkpointer(settings.database, settings.data_dir) as saver:
        if sqlite:
            await saver.conn.execute("PRAGMA secure_delete=ON")  # type: ignore[attr-defined]
        threads = await adelete_threads_of(saver, tenant_id, user_id)
        if sqlite:
            await saver.conn.execute(WAL_TRUNCATE)  # type: ignore[attr-defined]
    await services.database.atruncate_wal()
    return {
        services.database.backend: {**memory, "tickets": tickets},
        "checkpoints": {"threads": threads},
    }


async def aexport_customer(services: Services, tenant_id: str, user_id: str) -> dict[str, Any]:
    """Everything we hold about (tenant, user) that is theirs: memories and tickets."""
    memories = await services.memory.aexport(tenant_id, user_id)
    tickets = await services.tickets.afor_customer(tenant_id, user_id)
    return {
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
