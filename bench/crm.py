"""CRM and escalation overhead against the bare calls they wrap, side by side in one run.

Rows per database (embedded SQLite, Postgres):
- ``lookup_customer``: a bare SQLAlchemy Core select by e-mail, the SQL backend, the guarded and
  masked ``CRMService``, and the StructuredTool (sync ``invoke`` and async ``ainvoke``);
- ``get_order``: the same layers for one order;
- ``escalate``: a bare ``INSERT`` of a ticket row, ``TicketStore.create`` (insert + event with
  the database's duplicate guards), ``EscalationService.escalate`` and the tool; plus the
  replay of an existing idempotency key (the path a resumed run takes).
Plus the HTTP backend against a local server: a bare ``httpx`` POST vs backend vs tool.

Run: ``.venv/bin/python -m bench.crm [--n 300]`` (needs PostgreSQL at DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, make_url, select

from storage import migrate
from storage.config import DatabaseConfig
from storage.crm import CustomerRow, OrderRow, load_jsonl
from storage.engine import Database
from storage.tickets import NewTicket, TicketRow, TicketStore
from tools.config import CRMConfig, EscalationConfig
from tools.crm import CRMService, CustomerQuery, HTTPCRMBackend, SQLCRMBackend, build_crm_tools
from tools.escalation import EscalationService, build_escalation_tool
from tools.resilience import Resilience, ResilienceConfig

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tau2_retail"
TENANT = "bench"
CONFIG = {"configurable": {"tenant_id": TENANT, "user_id": "u-bench", "thread_id": "t-bench"}}
Row = tuple[str, str, list[float]]


def _time(fn: Callable[[int], Any], n: int) -> list[float]:
    for i in range(min(20, n)):
        fn(-1 - i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def _atime(fn: Callable[[int], Awaitable[Any]], n: int) -> list[float]:
    async def run() -> list[float]:
        for i in range(min(20, n)):
            await fn(-1 - i)
        samples = []
        for i in range(n):
            start = time.perf_counter()
            await fn(i)
            samples.append((time.perf_counter() - start) * 1e6)
        return samples

    return asyncio.run(run())


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _call(tool: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": "b", "name": tool.name, "args": args}


@contextmanager
def _postgres() -> Iterator[str]:
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"sa_bench_{uuid.uuid4().hex[:10]}"
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_rows(label: str, url: str, n: int, resilience: Resilience) -> list[Row]:
    database = Database(DatabaseConfig(url=url))
    migrate.upgrade(database)
    load_jsonl(database, TENANT, FIXTURES / "users.jsonl", FIXTURES / "orders.jsonl")
    users = [json.loads(line) for line in (FIXTURES / "users.jsonl").read_text().splitlines()]
    orders = [json.loads(line) for line in (FIXTURES / "orders.jsonl").read_text().splitlines()]
    emails = [u["email"] for u in users]
    order_ids = [o["order_id"] for o in orders]
    backend = SQLCRMBackend(database)
    service = CRMService(backend, resilience)
    lookup, get_order = build_crm_tools(service)
    customers, order_table = CustomerRow.__table__, OrderRow.__table__

    def email(i: int) -> str:
        return emails[i % len(emails)]

    def order_id(i: int) -> str:
        return order_ids[i % len(order_ids)]

    def bare_customer(i: int) -> Any:
        statement = select(customers).where(
            customers.c.tenant_id == TENANT, customers.c.email == email(i)
        )
        with database.engine.connect() as connection:
            return connection.execute(statement).all()

    def bare_order(i: int) -> Any:
        statement = select(order_table).where(
            order_table.c.tenant_id == TENANT, order_table.c.order_id == order_id(i)
        )
        with database.engine.connect() as connection:
            return connection.execute(statement).all()

    sync_rows: list[tuple[str, Callable[[int], Any]]] = [
        ("lookup: bare Core select", bare_customer),
        (
            "lookup: SQL backend",
            lambda i: backend.find_customers(TENANT, CustomerQuery(email=email(i)), 5),
        ),
        (
            "lookup: CRMService (guard+mask)",
            lambda i: service.find_customers(TENANT, CustomerQuery(email=email(i))),
        ),
        (
            "lookup: tool.invoke",
            lambda i: lookup.invoke(_call(lookup, {"email": email(i)}), config=CONFIG),
        ),
        ("order: bare Core select", bare_order),
        ("order: SQL backend", lambda i: backend.get_order(TENANT, order_id(i))),
        ("order: CRMService (guard+mask)", lambda i: service.get_order(TENANT, order_id(i))),
        (
            "order: tool.invoke",
            lambda i: get_order.invoke(_call(get_order, {"order_id": order_id(i)}), config=CONFIG),
        ),
    ]
    rows: list[Row] = [(label, name, _time(fn, n)) for name, fn in sync_rows]
    rows.append(
        (
            label,
            "order: tool.ainvoke",
            _atime(
                lambda i: get_order.ainvoke(
                    _call(get_order, {"order_id": order_id(i)}), config=CONFIG
                ),
                n,
            ),
        )
    )
    rows.extend(_ticket_rows(label, database, n, resilience))
    database.dispose()
    return rows


def _ticket_rows(label: str, database: Database, n: int, resilience: Resilience) -> list[Row]:
    store = TicketStore(database)
    service = EscalationService(store, EscalationConfig())
    tool = build_escalation_tool(service, resilience)
    run = uuid.uuid4().hex[:6]

    def bare_insert(i: int) -> None:
        stamp = datetime.now(UTC)
        with database.transaction() as connection:
            connection.execute(
                insert(TicketRow.__table__).values(
                    id=f"bare-{run}-{i}-{uuid.uuid4().hex[:6]}",
                    tenant_id=TENANT,
                    customer_ref=f"bare-{run}-{i}-{uuid.uuid4().hex[:6]}",
                    reason="other",
                    status="resolved",
                    priority="normal",
                    summary="s",
                    handoff={},
                    webhook_status="disabled",
                    sla_due_at=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )

    def new(i: int, prefix: str) -> NewTicket:
        return NewTicket(
            TENANT,
            f"{prefix}-{run}-{i}",
            "other",
            "normal",
            "s",
            {},
            datetime.now(UTC),
            idempotency_key=f"{prefix}-{run}-{i}",
        )

    def escalate(i: int, prefix: str) -> Any:
        return service.escalate(
            tenant_id=TENANT,
            reason="other",
            summary="bench",
            customer_ref=f"{prefix}-{run}-{i}",
            idempotency_key=f"{prefix}-{run}-{i}",
        )

    def through_tool(i: int) -> Any:
        caller = {"tenant_id": TENANT, "user_id": f"tu-{run}-{i}", "thread_id": f"th-{i}"}
        args = {"reason": "other", "summary": f"bench {run} {i}"}
        return tool.invoke(_call(tool, args), config={"configurable": caller})

    timed: list[tuple[str, Callable[[int], Any]]] = [
        ("ticket: bare INSERT", bare_insert),
        ("ticket: TicketStore.create", lambda i: store.create(new(i, "st"))),
        ("ticket: EscalationService", lambda i: escalate(i, "sv")),
        ("ticket: replay same key", lambda i: escalate(i, "sv")),
        ("ticket: tool.invoke", through_tool),
    ]
    return [(label, name, _time(fn, n)) for name, fn in timed]


@contextmanager
def _crm_server(users: list[dict[str, Any]]) -> Iterator[str]:
    """A minimal local CRM: answers every e-mail search from memory."""
    by_email = {u["email"]: u for u in users}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """No access log in a benchmark."""

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            found = [by_email[body["email"]]] if body.get("email") in by_email else []
            payload = json.dumps({"customers": found}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _http_rows(n: int, resilience: Resilience) -> list[Row]:
    users = [json.loads(line) for line in (FIXTURES / "users.jsonl").read_text().splitlines()]
    emails = [u["email"] for u in users]
    rows: list[Row] = []
    with _crm_server(users) as url:
        client = httpx.Client(base_url=url, headers={"Authorization": "Bearer sk-bench"})
        config = CRMConfig(backend="http", base_url=url, api_key=SecretStr("sk-bench"))
        backend = HTTPCRMBackend(config)
        lookup, _ = build_crm_tools(CRMService(backend, resilience))

        def bare(i: int) -> Any:
            body = {"email": emails[i % 500], "limit": 5}
            return client.post(
                "/customers/search", json=body, headers={"X-Tenant-ID": TENANT}
            ).json()

        def through_backend(i: int) -> Any:
            return backend.find_customers(TENANT, CustomerQuery(email=emails[i % 500]), 5)

        def through_tool(i: int) -> Any:
            return lookup.invoke(_call(lookup, {"email": emails[i % 500]}), config=CONFIG)

        rows.append(("http", "lookup: bare httpx POST", _time(bare, n)))
        rows.append(("http", "lookup: HTTP backend", _time(through_backend, n)))
        rows.append(("http", "lookup: tool.invoke", _time(through_tool, n)))
        client.close()
        backend.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="timed calls per row")
    args = parser.parse_args()
    resilience = Resilience(ResilienceConfig())
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        rows += _database_rows("sqlite", f"sqlite:///{folder}/bench.db", args.n, resilience)
    with _postgres() as url:
        rows += _database_rows("postgres", url, args.n, resilience)
    rows += _http_rows(args.n, resilience)
    resilience.close()
    table = Table(title=f"CRM + escalation, {args.n} calls per row (µs)")
    for column in ("backend", "operation", "median", "p99", "x bare"):
        table.add_column(
            column, justify="right" if column in ("median", "p99", "x bare") else "left"
        )
    baseline: dict[tuple[str, str], float] = {}
    for backend, name, samples in rows:
        group = name.split(":")[0]
        median = statistics.median(samples)
        if "bare" in name:
            baseline[(backend, group)] = median
        ratio = f"{median / baseline[(backend, group)]:.2f}"
        table.add_row(backend, name, f"{median:,.0f}", f"{_p99(samples):,.0f}", ratio)
    Console().print(table)


if __name__ == "__main__":
    main()
