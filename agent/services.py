"""The process's dependencies, built once from settings and closed together.

Every entry point (CLI, demo, ``langgraph dev``, the HTTP app, a Python caller) gets the same
wiring from here, so a dependency is configured in exactly one place. Construction opens
files and pools, so it happens on first use, never at import.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.tools import BaseTool
from sqlalchemy import func, select, text

from agent.health import Degraded, HealthCheck, run_checks
from agent.model_check import check_chat_model
from agent.observability import configure_observability
from agent.settings import Settings, load_settings
from storage.access_log import AccessLog
from storage.crm.tables import CustomerRow
from storage.embeddings import build_embeddings
from storage.engine import Database
from storage.memory import MemoryStore
from storage.migrate import ensure_schema
from storage.redis import RedisHandle
from storage.sealing import Keyring
from storage.tickets.store import TicketStore
from tools.crm.backend import CRMBackend
from tools.crm.factory import build_crm_backend
from tools.crm.service import CRMService
from tools.escalation.service import EscalationService
from tools.escalation.webhook import TicketWebhook
from tools.knowledge_base.factory import KnowledgeBaseStack, open_knowledge_base
from tools.knowledge_base.ingest import Ingestor
from tools.knowledge_base.search import KnowledgeBase
from tools.registry import ToolDependencies, ToolRegistry
from tools.resilience import Resilience, remaining

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    redis: RedisHandle | None
    resilience: Resilience
    embeddings: Embeddings
    memory: MemoryStore
    kb: KnowledgeBaseStack
    crm: CRMBackend
    crm_service: CRMService
    tickets: TicketStore
    keyring: Keyring
    access_log: AccessLog
    escalation: EscalationService
    registry: ToolRegistry
    _closers: list[Callable[[], object]] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        """Build everything; on a failure part-way, close what was already opened.

        Logging and tracing are configured first (once per process), so a Python caller
        that only opens the services gets the same redacted, correlated logs as the CLI.
        """
        configure_observability(settings, owns_process=False)
        opened: list[Callable[[], object]] = []
        try:
            database = Database(settings.database, time_left=remaining)
            opened.append(database.dispose)
            ensure_schema(database)
            redis = RedisHandle.from_config(settings.redis)
            if redis is not None:
                opened.append(redis.close)
            resilience = Resilience(settings.resilience, redis)
            opened.append(resilience.close)
            embeddings = build_embeddings(settings.embeddings)
            kb = open_knowledge_base(
                settings.chroma,
                settings.knowledge_base,
                embeddings,
                redis=redis,
                resilience=resilience,
            )
            opened.append(kb.close)
            crm = build_crm_backend(settings.crm, database)
            opened.append(crm.close)
            keyring = Keyring(settings.encryption.keys)
            tickets = TicketStore(database, keyring)
            webhook = (
                TicketWebhook(settings.escalation, resilience)
                if settings.escalation.webhook_url
                else None
            )
            if webhook is not None:
                opened.append(webhook.close)
            memory = MemoryStore(database, embeddings, settings.memory, keyring)
            access_log = AccessLog(database)
            escalation = EscalationService(tickets, settings.escalation, webhook)
            registry = ToolRegistry(
                ToolDependencies(
                    default_tenant=settings.tenant_id,
                    database=database,
                    redis=redis,
                    resilience=resilience,
                    embeddings=embeddings,
                    memory_store=memory,
                    knowledge_base=kb.knowledge_base,
                    crm_backend=crm,
                    crm_max_results=settings.crm.max_results,
                    tickets=escalation,
                    access_log=access_log,
                )
            )
            return cls(
                settings=settings,
                database=database,
                redis=redis,
                resilience=resilience,
                embeddings=embeddings,
                memory=memory,
                kb=kb,
                crm=crm,
                crm_service=CRMService(
                    crm, resilience, max_results=settings.crm.max_results, access_log=access_log
                ),
                tickets=tickets,
                keyring=keyring,
                access_log=access_log,
                escalation=escalation,
                registry=registry,
                _closers=opened,
            )
        except BaseException:
            _close_all(reversed(opened))
            raise

    @property
    def knowledge_base(self) -> KnowledgeBase:
        return self.kb.knowledge_base

    @property
    def ingestor(self) -> Ingestor:
        return self.kb.ingestor

    @property
    def tools(self) -> list[BaseTool]:
        """The tool pack's available tools (``registry.status()`` also names the others)."""
        return self.registry.tools

    def close(self) -> None:
        """Close pools, clients and executors, newest first."""
        _close_all(reversed(self._closers))
        self._closers.clear()

    async def aclose(self) -> None:
        """Close async pools and clients on their own loop first, then everything else."""
        await self.database.adispose()
        if self.redis is not None:
            await self.redis.aclose_loop()
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @classmethod
    async def open(cls, settings: Settings) -> Services:
        """Build off the event loop (it loads the model and opens files)."""
        return await asyncio.to_thread(cls.create, settings)

    def health_checks(self) -> list[HealthCheck]:
        return [
            HealthCheck("database", self._check_database),
            HealthCheck("vector_store", self._check_vector_store),
            HealthCheck("redis", self._check_redis, critical=False),
            HealthCheck("breakers", self._check_breakers, critical=False),
            HealthCheck("tools", self._check_tools, critical=False),
            HealthCheck("data", self._check_data, critical=False),
            *(
                [HealthCheck("chat_model", self._check_chat_model, critical=False)]
                if self.settings.llm.model
                else []
            ),
        ]

    async def health(self, timeout_s: float = 2.0) -> dict[str, Any]:
        return await run_checks(self.health_checks(), timeout_s)

    async def _check_database(self) -> dict[str, Any]:
        async with self.database.atransaction() as connection:
            await connection.execute(text("SELECT 1"))
        return {"url": self.database.url, "pool": self.database.pool_status()}

    async def _check_vector_store(self) -> dict[str, Any]:
        count = await asyncio.to_thread(self.kb.store.count)
        return {"mode": self.kb.store.mode, "chunks": count}

    async def _check_redis(self) -> dict[str, Any]:
        if self.redis is None:
            raise Degraded("no Redis configured: shared state is per process")
        reachable = await asyncio.to_thread(self.redis.probe)
        if not reachable:
            raise Degraded("Redis unreachable: local breakers and rate limits in use")
        return {"available": True}

    async def _check_breakers(self) -> dict[str, Any]:
        status = self.resilience.status()
        open_ones = [name for name, info in status["breakers"].items() if info["state"] != "closed"]
        if open_ones:
            raise Degraded(f"circuit not closed for: {', '.join(sorted(open_ones))}", status)
        return status

    async def _check_tools(self) -> dict[str, Any]:
        status = self.registry.status()
        if self.registry.unavailable:
            raise Degraded(
                f"tools unavailable: {', '.join(sorted(self.registry.unavailable))}", status
            )
        return status

    async def data_warnings(self) -> list[str]:
        """What is missing for useful answers: an empty knowledge base or CRM, and how to
        load one. Without them every answer is "I don't know" and escalates."""
        warnings = []
        if await asyncio.to_thread(self.kb.store.count) == 0:
            warnings.append(
                "the knowledge base is empty: load articles with `support-agent ingest PATH` "
                "(`support-agent demo` loads the sample shop)"
            )
        if self.settings.crm.backend == "sql":
            statement = (
                select(func.count())
                .select_from(CustomerRow)
                .where(CustomerRow.tenant_id == self.settings.tenant_id)
            )
            async with self.database.atransaction() as connection:
                customers = (await connection.execute(statement)).scalar_one()
            if customers == 0:
                warnings.append(
                    f"the CRM has no customers for tenant {self.settings.tenant_id}: load them "
                    "with `support-agent crm-load PATH` (`support-agent demo` loads the sample shop)"
                )
        return warnings

    async def _check_data(self) -> dict[str, Any]:
        warnings = await self.data_warnings()
        if warnings:
            raise Degraded("; ".join(warnings))
        return {"knowledge_base": "loaded", "crm": "loaded"}

    async def _check_chat_model(self) -> dict[str, Any]:
        return await check_chat_model(self.settings.llm)


def _close_all(closers: Iterable[Callable[[], object]]) -> None:
    """Run every closer even if one fails, so one bad client cannot leak the others."""
    for close in closers:
        try:
            close()
        except Exception:
            logger.exception("closing %s failed", getattr(close, "__qualname__", close))


_shared: Services | None = None
_shared_lock = threading.Lock()


def get_services() -> Services:
    """The process-wide services from ``load_settings()``, for ``langgraph dev`` and the HTTP app."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Services.create(load_settings())
        return _shared


async def aclose_services() -> None:
    """Close the process-wide services (server shutdown); the next use builds them again."""
    global _shared
    with _shared_lock:
        services, _shared = _shared, None
    if services is not None:
        await services.aclose()
