"""The shop data a scenario runs on: knowledge base ingested once per run, and the
customer's own CRM records loaded into each trial's tenant.

Every trial runs in a tenant of its own (``eval-<run>-<n>``), so trials never see each
other's memories or tickets, even when they run at the same time for the same customer.
Only the scenario customer's records are copied there, which keeps a trial's setup small
on a 1,000-order CRM fixture.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.conversation import DEMO_DATA
from agent.eval.scenario import Shop
from storage.crm import load_jsonl


@dataclass(frozen=True)
class ShopFiles:
    knowledge_base: tuple[Path, ...]
    customers: Path | None
    orders: Path | None


def resolve(shop: Shop, base: Path) -> ShopFiles:
    """Absolute paths of a scenario's shop; relative ones are read from ``base``."""
    if shop.demo:
        return ShopFiles(
            (DEMO_DATA / "kb",), DEMO_DATA / "customers.jsonl", DEMO_DATA / "orders.jsonl"
        )

    def path(name: str) -> Path:
        candidate = Path(name).expanduser()
        return candidate if candidate.is_absolute() else base / candidate

    return ShopFiles(
        tuple(path(p) for p in shop.knowledge_base),
        path(shop.customers) if shop.customers else None,
        path(shop.orders) if shop.orders else None,
    )


def _by_user(path: Path | None) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = defaultdict(list)
    if path is None:
        return lines
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                lines[str(json.loads(line).get("user_id"))].append(line.rstrip("\n"))
    return lines


@dataclass
class ShopLoader:
    """Ingests each knowledge base once and copies a customer's records per trial."""

    services: Any
    _ingested: set[tuple[Path, ...]] = field(default_factory=set)
    _records: dict[tuple[Path | None, Path | None], tuple[dict, dict]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def prepare(self, files: ShopFiles) -> None:
        """Before the trials start: ingest the knowledge base, index the CRM files."""
        async with self._lock:
            if files.knowledge_base and files.knowledge_base not in self._ingested:
                await self.services.ingestor.aingest(list(files.knowledge_base))
                self._ingested.add(files.knowledge_base)
            key = (files.customers, files.orders)
            if key not in self._records:
                self._records[key] = await asyncio.to_thread(
                    lambda: (_by_user(files.customers), _by_user(files.orders))
                )

    async def load_customer(self, files: ShopFiles, tenant_id: str, user_id: str) -> None:
        customers, orders = self._records[(files.customers, files.orders)]
        if not customers.get(user_id) and not orders.get(user_id):
            return
        await asyncio.to_thread(
            _load,
            self.services.database,
            tenant_id,
            customers.get(user_id, []),
            orders.get(user_id, []),
        )


def _load(database: Any, tenant_id: str, customers: list[str], orders: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="support-eval-") as folder:
        users_path, orders_path = Path(folder) / "customers.jsonl", Path(folder) / "orders.jsonl"
        users_path.write_text("\n".join(customers) + "\n", encoding="utf-8")
        orders_path.write_text("\n".join(orders) + "\n", encoding="utf-8")
        load_jsonl(database, tenant_id, users_path, orders_path)
