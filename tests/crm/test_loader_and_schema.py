"""Migration 0002 round-trips on both databases; the loader is idempotent and all-or-nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from agent.cli import main
from agent.cli_failures import EXIT_SCHEMA
from storage import migrate
from storage.config import DatabaseConfig
from storage.crm import CRMLoadError, CustomerRow, OrderRow, load_jsonl
from storage.engine import Database
from tests.postgres_database import fresh_postgres_database

from .conftest import SHOP, Tau2, write_jsonl

CRM_TABLES = {"crm_customers", "crm_orders", "tickets", "ticket_events"}


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server_url: str
) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(DatabaseConfig(url=f"sqlite:///{tmp_path / 'fresh.db'}"))
        yield database
        database.dispose()
        return
    with fresh_postgres_database(postgres_server_url) as url:
        database = Database(DatabaseConfig(url=url))
        yield database
        database.dispose()


def _counts(database: Database, tenant: str) -> tuple[int, int]:
    with database.transaction() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(
                select(func.count()).select_from(table).where(table.c.tenant_id == tenant)
            ).scalar_one()
            for table in (CustomerRow.__table__, OrderRow.__table__)
        )


def test_migration_upgrades_and_downgrades(fresh_database: Database) -> None:
    migrate.upgrade(fresh_database, "0002_crm_tickets")
    assert set(inspect(fresh_database.engine).get_table_names()) >= CRM_TABLES
    indexes = {i["name"]: i for i in inspect(fresh_database.engine).get_indexes("tickets")}
    assert indexes["uq_tickets_active_reason"]["unique"]
    migrate.downgrade(fresh_database, "0001_memory")
    tables = set(inspect(fresh_database.engine).get_table_names())
    assert not CRM_TABLES & tables
    assert "memories" in tables
    migrate.upgrade(fresh_database)
    assert set(inspect(fresh_database.engine).get_table_names()) >= CRM_TABLES


def test_loading_twice_changes_nothing(fresh_database: Database, tau2: Tau2) -> None:
    migrate.upgrade(fresh_database)
    first = load_jsonl(fresh_database, "acme", tau2.users_path, tau2.orders_path)
    expected = (len(tau2.users), len(tau2.orders))
    assert (first.customers, first.orders) == expected
    assert _counts(fresh_database, "acme") == expected
    load_jsonl(fresh_database, "acme", tau2.users_path, tau2.orders_path)
    assert _counts(fresh_database, "acme") == expected


def test_a_bad_file_is_refused_whole(fresh_database: Database, tau2: Tau2, tmp_path: Path) -> None:
    migrate.upgrade(fresh_database)
    users = [*tau2.users[:3], {"user_id": "broken", "name": "not an object"}]
    users_path = write_jsonl(tmp_path / "users.jsonl", users)
    with users_path.open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(CRMLoadError) as caught:
        load_jsonl(fresh_database, "acme", users_path, None)
    assert len(caught.value.problems) == 2
    assert "users.jsonl:4" in str(caught.value)
    assert "not an object" not in str(caught.value)
    assert _counts(fresh_database, "acme") == (0, 0)
    partial = load_jsonl(fresh_database, "acme", users_path, None, skip_invalid=True)
    assert (partial.customers, len(partial.skipped)) == (3, 2)
    assert _counts(fresh_database, "acme") == (3, 0)


def test_cli_loads_a_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tau2: Tau2,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SUPPORT_DATABASE__URL", raising=False)
    assert main(["crm-load", str(SHOP), "--tenant", "shop"]) == 0
    customers, orders = len(tau2.users), len(tau2.orders)
    assert f"{customers} customers, {orders} orders" in capsys.readouterr().out
    database = Database(DatabaseConfig(url=f"sqlite:///{tmp_path / 'data' / 'support.db'}"))
    assert _counts(database, "shop") == (customers, orders)
    database.dispose()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "orders.jsonl").write_text(json.dumps({"order_id": "#W1"}) + "\n")
    assert main(["crm-load", str(bad)]) == 1
    assert "nothing was written" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["crm-load", str(empty)]) == 2
    assert main(["crm-load", str(tmp_path / "missing.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_migration_matches_the_table_models(fresh_database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import storage.crm.tables
    import storage.tickets.tables  # noqa: F401  (register the models being compared)

    migrate.upgrade(fresh_database)
    with fresh_database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)

    def table_of(diff: object) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None:
                return table.name
            if isinstance(part, str) and part in CRM_TABLES:
                return part
            if name in CRM_TABLES:
                return name
        return None

    ours = [d for d in diffs if table_of(d) in CRM_TABLES]
    assert ours == []


def test_every_lookup_uses_an_index(tmp_path: Path) -> None:
    """A lookup that walks a whole tenant gets slow as the CRM grows; SQLite's plan says."""
    from sqlalchemy import text

    from tools.crm import CustomerQuery
    from tools.crm.sql_backend import _customer_statement, _order_statement

    database = Database(DatabaseConfig(url=f"sqlite:///{tmp_path / 'plan.db'}"))
    migrate.upgrade(database)
    expected = [
        (
            _customer_statement("acme", CustomerQuery(email="a@b.example"), 5),
            "ix_crm_customers_email",
        ),
        (
            _customer_statement("acme", CustomerQuery(customer_id="maya_chen_4821"), 5),
            "(tenant_id=? AND customer_id=?)",
        ),
        (
            _customer_statement("acme", CustomerQuery(first_name="A", last_name="B", zip="1"), 5),
            "ix_crm_customers_name_zip",
        ),
        (_order_statement("acme", "W2611340"), "(tenant_id=? AND order_id=?)"),
    ]
    with database.engine.connect() as connection:
        for statement, index in expected:
            sql = statement.compile(database.engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(
                row[-1] for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
            )
            assert index in plan, plan
            assert "SCAN" not in plan, plan
    database.dispose()


def test_cli_refuses_an_unmigrated_postgres(
    monkeypatch: pytest.MonkeyPatch,
    postgres_server_url: str,
    tau2: Tau2,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with fresh_postgres_database(postgres_server_url) as url:
        monkeypatch.setenv("SUPPORT_DATABASE__URL", url)
        assert main(["crm-load", str(SHOP)]) == EXIT_SCHEMA
        assert "support-agent migrate" in capsys.readouterr().err
        database = Database(DatabaseConfig(url=url))
        migrate.upgrade(database)
        assert main(["crm-load", str(SHOP), "--tenant", "pg"]) == 0
        assert _counts(database, "pg") == (len(tau2.users), len(tau2.orders))
        database.dispose()
