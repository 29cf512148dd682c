"""Create and read tickets with the database deciding duplicates.

``create`` inserts with ``ON CONFLICT DO NOTHING`` (both unique guards of ``tickets``) and, on a
conflict, reads back the ticket that won. So any number of concurrent or resumed calls with
one idempotency key, or for one customer and reason, leave exactly one active ticket, on
SQLite and on PostgreSQL alike, across processes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Executable,
    Row,
    and_,
    case,
    delete,
    false,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.crm.tables import utcnow
from storage.engine import Database
from storage.sealing import Keyring, TenantKey
from storage.tickets.tables import (
    ACTIVE_STATUSES,
    TICKET_STATUSES,
    WEBHOOK_STATUSES,
    TicketEventRow,
    TicketRow,
)

_TICKETS = TicketRow.__table__
_EVENTS = TicketEventRow.__table__
_ATTEMPTS = 3

DuplicateOf = Literal["idempotency_key", "active_ticket"]


class TicketStoreError(RuntimeError):
    """The database kept refusing the ticket without showing the one that won."""


@dataclass(frozen=True)
class NewTicket:
    tenant_id: str
    customer_ref: str
    reason: str
    priority: str
    summary: str
    handoff: dict[str, Any]
    sla_due_at: datetime
    idempotency_key: str | None = None
    conversation_ref: str | None = None
    webhook_status: str = "disabled"


@dataclass(frozen=True)
class Ticket:
    id: str
    tenant_id: str
    customer_ref: str
    reason: str
    status: str
    priority: str
    summary: str
    handoff: dict[str, Any]
    idempotency_key: str | None
    conversation_ref: str | None
    webhook_status: str
    sla_due_at: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], key: TenantKey) -> Ticket:
        """The row with its text opened; a ticket sealed under a destroyed tenant key reads
        with an empty summary and handoff (erased)."""
        values = dict(mapping)
        values["summary"] = key.open_text(values["summary"]) or ""
        values["handoff"] = key.open_json(values["handoff"]) or {}
        for name in ("sla_due_at", "created_at", "updated_at"):
            values[name] = _aware(values[name])
        return cls(**values)


@dataclass(frozen=True)
class TicketResult:
    ticket: Ticket
    created: bool
    duplicate_of: DuplicateOf | None = None


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_ticket_id() -> str:
    return f"tkt_{uuid.uuid4().hex}"


class _Statements:
    """The SQL of every operation, shared by the sync and async paths."""

    @staticmethod
    def insert(
        dialect: str, ticket_id: str, new: NewTicket, now: datetime, key: TenantKey
    ) -> Executable:
        module = postgresql if dialect == "postgresql" else sqlite
        values = {
            "id": ticket_id,
            "tenant_id": new.tenant_id,
            "customer_ref": new.customer_ref,
            "reason": new.reason,
            "status": "open",
            "priority": new.priority,
            "summary": key.seal_text(new.summary),
            "handoff": key.seal_json(new.handoff),
            "idempotency_key": new.idempotency_key,
            "conversation_ref": new.conversation_ref,
            "webhook_status": new.webhook_status,
            "sla_due_at": new.sla_due_at,
            "created_at": now,
            "updated_at": now,
        }
        return (
            module.insert(_TICKETS).values(values).on_conflict_do_nothing().returning(*_TICKETS.c)
        )

    @staticmethod
    def winner(new: NewTicket) -> Executable:
        """The ticket that beat this insert: same idempotency key first, else the active one."""
        active = and_(
            _TICKETS.c.customer_ref == new.customer_ref,
            _TICKETS.c.reason == new.reason,
            _TICKETS.c.status.in_(ACTIVE_STATUSES),
        )
        by_key = (
            _TICKETS.c.idempotency_key == new.idempotency_key
            if new.idempotency_key is not None
            else false()
        )
        return (
            select(_TICKETS, case((by_key, True), else_=False).label("by_key"))
            .where(_TICKETS.c.tenant_id == new.tenant_id, or_(by_key, active))
            .order_by(case((by_key, 0), else_=1))
            .limit(1)
        )

    @staticmethod
    def event(
        key: TenantKey, tenant_id: str, ticket_id: str, kind: str, detail: dict[str, Any]
    ) -> Executable:
        return insert(_EVENTS).values(
            ticket_id=ticket_id,
            tenant_id=tenant_id,
            kind=kind,
            detail=key.seal_json(detail),
            created_at=utcnow(),
        )

    @staticmethod
    def get(tenant_id: str, ticket_id: str) -> Executable:
        return select(_TICKETS).where(_TICKETS.c.tenant_id == tenant_id, _TICKETS.c.id == ticket_id)

    @staticmethod
    def of_customer(tenant_id: str, customer_ref: str) -> Executable:
        return (
            select(_TICKETS)
            .where(_TICKETS.c.tenant_id == tenant_id, _TICKETS.c.customer_ref == customer_ref)
            .order_by(_TICKETS.c.created_at)
        )

    @staticmethod
    def events(tenant_id: str, ticket_id: str) -> Executable:
        return (
            select(_EVENTS.c.kind, _EVENTS.c.detail, _EVENTS.c.created_at)
            .where(_EVENTS.c.tenant_id == tenant_id, _EVENTS.c.ticket_id == ticket_id)
            .order_by(_EVENTS.c.id)
        )

    @staticmethod
    def purge(tenant_id: str, customer_ref: str) -> tuple[Executable, Executable]:
        owned = select(_TICKETS.c.id).where(
            _TICKETS.c.tenant_id == tenant_id, _TICKETS.c.customer_ref == customer_ref
        )
        return (
            delete(_EVENTS).where(_EVENTS.c.tenant_id == tenant_id, _EVENTS.c.ticket_id.in_(owned)),
            delete(_TICKETS).where(
                _TICKETS.c.tenant_id == tenant_id, _TICKETS.c.customer_ref == customer_ref
            ),
        )

    @staticmethod
    def claim(tenant_id: str, ticket_id: str, lease_s: float) -> Executable:
        """Take the delivery: owed (pending, failed), or claimed by a caller whose lease ran
        out (it crashed or hung). One UPDATE, so exactly one concurrent caller matches."""
        now = utcnow()
        owed = or_(
            _TICKETS.c.webhook_status.in_(("pending", "failed")),
            and_(
                _TICKETS.c.webhook_status == "delivering",
                _TICKETS.c.updated_at < now - timedelta(seconds=lease_s),
            ),
        )
        return (
            update(_TICKETS)
            .where(_TICKETS.c.tenant_id == tenant_id, _TICKETS.c.id == ticket_id, owed)
            .values(webhook_status="delivering", updated_at=now)
        )

    @staticmethod
    def replies(tenant_id: str, ticket_id: str) -> Executable:
        return select(_EVENTS.c.detail).where(
            _EVENTS.c.tenant_id == tenant_id,
            _EVENTS.c.ticket_id == ticket_id,
            _EVENTS.c.kind == "human_reply",
        )

    @staticmethod
    def set_fields(tenant_id: str, ticket_id: str, **values: Any) -> Executable:
        return (
            update(_TICKETS)
            .where(_TICKETS.c.tenant_id == tenant_id, _TICKETS.c.id == ticket_id)
            .values(updated_at=utcnow(), **values)
        )


def _duplicate_event(new: NewTicket) -> dict[str, Any]:
    """A second escalation for an active ticket is kept as an event, never dropped."""
    return {
        "summary": new.summary,
        "priority": new.priority,
        "idempotency_key": new.idempotency_key,
        "conversation_ref": new.conversation_ref,
    }


def _resolve_winner(row: Row[Any] | None, key: TenantKey) -> tuple[Ticket, DuplicateOf] | None:
    if row is None:
        return None
    values = dict(row._mapping)
    by_key = bool(values.pop("by_key"))
    return Ticket.from_mapping(values, key), "idempotency_key" if by_key else "active_ticket"


def _already_replied(detail: dict[str, Any], earlier: Any, key: TenantKey) -> bool:
    reply_key = detail.get("reply_key")
    opened = (key.open_json(d) or {} for d in earlier)
    return reply_key is not None and any(d.get("reply_key") == reply_key for d in opened)


_UPDATABLE = {"status": TICKET_STATUSES, "webhook_status": WEBHOOK_STATUSES}


def _check_fields(fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        allowed = _UPDATABLE.get(name)
        if allowed is None:
            raise ValueError(f"ticket field {name!r} cannot be updated")
        if value not in allowed:
            raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")


class TicketStore:
    """Tickets of every tenant; each method takes the tenant and never reads across it."""

    def __init__(self, database: Database, keyring: Keyring | None = None) -> None:
        self.database = database
        self.keyring = keyring or Keyring(None)

    def create(self, new: NewTicket) -> TicketResult:
        for _ in range(_ATTEMPTS):
            with self.database.transaction() as connection:
                result = self._create_in(connection, new)
            if result is not None:
                return result
        raise TicketStoreError("ticket insert conflicted but no winning ticket was visible")

    async def acreate(self, new: NewTicket) -> TicketResult:
        for _ in range(_ATTEMPTS):
            async with self.database.atransaction() as connection:
                result = await self._acreate_in(connection, new)
            if result is not None:
                return result
        raise TicketStoreError("ticket insert conflicted but no winning ticket was visible")

    def _create_in(self, connection: Connection, new: NewTicket) -> TicketResult | None:
        ticket_id, now = new_ticket_id(), utcnow()
        key = self.keyring.key_for(connection, new.tenant_id, now.timestamp())
        statement = _Statements.insert(connection.dialect.name, ticket_id, new, now, key)
        inserted = connection.execute(statement).first()
        if inserted is not None:
            connection.execute(_Statements.event(key, new.tenant_id, ticket_id, "created", {}))
            return TicketResult(Ticket.from_mapping(inserted._mapping, key), created=True)
        found = _resolve_winner(connection.execute(_Statements.winner(new)).first(), key)
        if found is None:
            return None
        ticket, duplicate_of = found
        if duplicate_of == "active_ticket":
            connection.execute(
                _Statements.event(
                    key, new.tenant_id, ticket.id, "duplicate_request", _duplicate_event(new)
                )
            )
        return TicketResult(ticket, created=False, duplicate_of=duplicate_of)

    async def _acreate_in(self, connection: AsyncConnection, new: NewTicket) -> TicketResult | None:
        ticket_id, now = new_ticket_id(), utcnow()
        key = await self.keyring.akey_for(connection, new.tenant_id, now.timestamp())
        statement = _Statements.insert(connection.dialect.name, ticket_id, new, now, key)
        inserted = (await connection.execute(statement)).first()
        if inserted is not None:
            created = _Statements.event(key, new.tenant_id, ticket_id, "created", {})
            await connection.execute(created)
            return TicketResult(Ticket.from_mapping(inserted._mapping, key), created=True)
        winner = (await connection.execute(_Statements.winner(new))).first()
        found = _resolve_winner(winner, key)
        if found is None:
            return None
        ticket, duplicate_of = found
        if duplicate_of == "active_ticket":
            await connection.execute(
                _Statements.event(
                    key, new.tenant_id, ticket.id, "duplicate_request", _duplicate_event(new)
                )
            )
        return TicketResult(ticket, created=False, duplicate_of=duplicate_of)

    def get(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        with self.database.transaction() as connection:
            key = self.keyring.key_for(connection, tenant_id, time.time())
            row = connection.execute(_Statements.get(tenant_id, ticket_id)).first()
        return Ticket.from_mapping(row._mapping, key) if row is not None else None

    async def aget(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        async with self.database.atransaction() as connection:
            key = await self.keyring.akey_for(connection, tenant_id, time.time())
            row = (await connection.execute(_Statements.get(tenant_id, ticket_id))).first()
        return Ticket.from_mapping(row._mapping, key) if row is not None else None

    async def afor_customer(self, tenant_id: str, customer_ref: str) -> list[Ticket]:
        """Every ticket of one customer, oldest first (data portability)."""
        async with self.database.atransaction() as connection:
            key = await self.keyring.akey_for(connection, tenant_id, time.time())
            rows = (
                await connection.execute(_Statements.of_customer(tenant_id, customer_ref))
            ).all()
        return [Ticket.from_mapping(row._mapping, key) for row in rows]

    def events(self, tenant_id: str, ticket_id: str) -> list[dict[str, Any]]:
        with self.database.transaction() as connection:
            key = self.keyring.key_for(connection, tenant_id, time.time())
            rows = connection.execute(_Statements.events(tenant_id, ticket_id)).all()
        return [
            {
                "kind": row.kind,
                "detail": key.open_json(row.detail) or {},
                "created_at": _aware(row.created_at),
            }
            for row in rows
        ]

    def update(
        self, tenant_id: str, ticket_id: str, kind: str, detail: dict[str, Any], **fields: Any
    ) -> bool:
        """Change ``fields`` (status, webhook_status) and append one event, atomically.

        Resolving or closing a ticket frees its slot for a new active ticket. Returns
        whether the ticket exists in this tenant.
        """
        _check_fields(fields)
        with self.database.transaction() as connection:
            key = self.keyring.key_for(connection, tenant_id, time.time())
            changed = connection.execute(
                _Statements.set_fields(tenant_id, ticket_id, **fields)
            ).rowcount
            if changed:
                connection.execute(_Statements.event(key, tenant_id, ticket_id, kind, detail))
        return bool(changed)

    async def aupdate(
        self, tenant_id: str, ticket_id: str, kind: str, detail: dict[str, Any], **fields: Any
    ) -> bool:
        _check_fields(fields)
        async with self.database.atransaction() as connection:
            key = await self.keyring.akey_for(connection, tenant_id, time.time())
            result = await connection.execute(
                _Statements.set_fields(tenant_id, ticket_id, **fields)
            )
            if result.rowcount:
                event = _Statements.event(key, tenant_id, ticket_id, kind, detail)
                await connection.execute(event)
        return bool(result.rowcount)

    def claim_delivery(self, tenant_id: str, ticket_id: str, lease_s: float) -> bool:
        """Whether this caller won the right to deliver the ticket's webhook now.

        Concurrent escalations, resumes and replays of one ticket all reach here; the
        database lets exactly one through until it records the outcome (``update``) or its
        lease of ``lease_s`` seconds runs out.
        """
        with self.database.transaction() as connection:
            claim = _Statements.claim(tenant_id, ticket_id, lease_s)
            return bool(connection.execute(claim).rowcount)

    async def aclaim_delivery(self, tenant_id: str, ticket_id: str, lease_s: float) -> bool:
        async with self.database.atransaction() as connection:
            claim = _Statements.claim(tenant_id, ticket_id, lease_s)
            return bool((await connection.execute(claim)).rowcount)

    def add_reply(self, tenant_id: str, ticket_id: str, detail: dict[str, Any]) -> bool | None:
        """Record a human reply once per ``detail["reply_key"]``; the ticket moves to
        in_progress. None: no such ticket; False: this reply was already recorded.

        The UPDATE comes first so it holds the ticket's row lock (SQLite: the write lock)
        while the earlier replies are read: two concurrent resumes are serialised by the
        database and the second sees the first's reply.
        """
        with self.database.transaction() as connection:
            if not connection.execute(
                _Statements.set_fields(tenant_id, ticket_id, status="in_progress")
            ).rowcount:
                return None
            key = self.keyring.key_for(connection, tenant_id, time.time())
            earlier = connection.execute(_Statements.replies(tenant_id, ticket_id)).scalars()
            if _already_replied(detail, earlier, key):
                return False
            reply = _Statements.event(key, tenant_id, ticket_id, "human_reply", detail)
            connection.execute(reply)
        return True

    async def aadd_reply(
        self, tenant_id: str, ticket_id: str, detail: dict[str, Any]
    ) -> bool | None:
        async with self.database.atransaction() as connection:
            updated = await connection.execute(
                _Statements.set_fields(tenant_id, ticket_id, status="in_progress")
            )
            if not updated.rowcount:
                return None
            key = await self.keyring.akey_for(connection, tenant_id, time.time())
            earlier = (
                await connection.execute(_Statements.replies(tenant_id, ticket_id))
            ).scalars()
            if _already_replied(detail, earlier, key):
                return False
            reply = _Statements.event(key, tenant_id, ticket_id, "human_reply", detail)
            await connection.execute(reply)
        return True

    def purge(self, tenant_id: str, customer_ref: str) -> int:
        """Erase one customer's tickets and their events (right to erasure); returns tickets."""
        events, tickets = _Statements.purge(tenant_id, customer_ref)
        with self.database.transaction() as connection:
            connection.execute(events)
            return connection.execute(tickets).rowcount

    async def apurge(self, tenant_id: str, customer_ref: str) -> int:
        events, tickets = _Statements.purge(tenant_id, customer_ref)
        async with self.database.atransaction() as connection:
            await connection.execute(events)
            return (await connection.execute(tickets)).rowcount
