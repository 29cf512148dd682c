"""``support-agent memory-demo``: the memory store alone, on the embedded defaults.

A short, deterministic story that shows each behaviour a reviewer asks about: a new fact,
an exact duplicate, a near duplicate, a paraphrase, two facts that differ only in a number,
recall ranking, forget and purge. It uses its own user id and purges it at the end.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from agent.memory_commands import open_store
from agent.settings import Settings
from storage.memory import Scope

USER = "memory-demo-user"
FACTS = [
    ("new fact", "The customer prefers email over phone calls."),
    ("case/punctuation variant", "the customer prefers EMAIL over phone calls!!"),
    ("near copy", "The customer prefers email, over phone-calls"),
    ("new fact", "My package arrived damaged"),
    ("paraphrase", "The package I received was damaged"),
    ("new fact", "Order 1042 was delivered on Monday"),
    ("differs by a number", "Order 1043 was delivered on Monday"),
]


def run(settings: Settings, _args: argparse.Namespace) -> int:
    console = Console()
    scope = Scope(settings.tenant_id, USER, "demo-session")
    with open_store(settings) as store:
        store.purge(scope.tenant_id, scope.user_id)
        console.rule(f"[bold]memory store on {store.database.backend}")
        table = Table("what", "text", "outcome", "memory")
        ids = []
        for label, text in FACTS:
            result = store.remember(scope, text)
            ids.append(result.memory.id)
            outcome = f"dedup: {result.dedup_tier}" if result.deduped else "stored"
            table.add_row(label, text, outcome, result.memory.id[:8])
        console.print(table)

        query = "how should we contact this customer?"
        found = store.recall(scope, query, limit=3)
        table = Table("score", "memory", title=f"recall: {query!r}")
        for hit in found:
            table.add_row(f"{hit.score:.3f}", hit.memory.content)
        console.print(table)

        store.forget(scope, ids[0])
        after = [hit.memory.content for hit in store.recall(scope, query, limit=3)]
        console.print(f"after forget({ids[0][:8]}): recall returns {after}")
        exported = store.export(scope.tenant_id, scope.user_id)
        console.print(
            f"export: {len(exported['memories'])} memories, {len(exported['audit'])} audit entries"
            " (the audit trail holds ids and actions, never text)"
        )
        counts = store.purge(scope.tenant_id, scope.user_id)
        console.print(
            f"purge: {counts}; export afterwards: "
            f"{len(store.export(scope.tenant_id, scope.user_id)['memories'])} memories"
        )
    return 0
