"""Load tau2-retail-shaped JSONL into the CRM tables, all or nothing.

Every line is validated before the first write; the writes are upserts in one transaction,
so loading the same files twice leaves the same rows and a failure leaves the old data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from storage.crm.records import OrderRecord, UserRecord
from storage.crm.tables import CustomerRow, OrderRow, name_key, utcnow
from storage.engine import Database

_BATCH = 500
_RecordT = TypeVar("_RecordT", bound=BaseModel)


class CRMLoadError(ValueError):
    """A file could not be loaded; ``problems`` lists ``path:line: reason`` (no record content)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"CRM load refused, nothing was written:\n  {shown}{more}")


@dataclass(frozen=True)
class LoadResult:
    tenant_id: str
    customers: int
    orders: int
    skipped: list[str] = field(default_factory=list)


def load_jsonl(
    database: Database,
    tenant_id: str,
    users_path: Path | str | None,
    orders_path: Path | str | None,
    *,
    skip_invalid: bool = False,
) -> LoadResult:
    """Upsert customers and orders for one tenant; with ``skip_invalid`` bad lines are reported."""
    problems: list[str] = []
    users = _read(users_path, UserRecord, problems) if users_path else []
    orders = _read(orders_path, OrderRecord, problems) if orders_path else []
    if problems and not skip_invalid:
        raise CRMLoadError(problems)
    now = utcnow()
    customer_rows = [_customer_row(tenant_id, user, now) for user in users]
    order_rows = [_order_row(tenant_id, order, now) for order in orders]
    with database.transaction() as connection:
        _upsert(connection, CustomerRow.__table__, customer_rows, ("tenant_id", "customer_id"))
        _upsert(connection, OrderRow.__table__, order_rows, ("tenant_id", "order_id"))
    return LoadResult(tenant_id, len(customer_rows), len(order_rows), problems)


def _read(path: Path | str, model: type[_RecordT], problems: list[str]) -> list[_RecordT]:
    records: list[_RecordT] = []
    try:
        for number, line in _lines(Path(path)):
            try:
                records.append(model.model_validate_json(line))
            except ValidationError as exc:
                fields = sorted(
                    {".".join(str(p) for p in e["loc"]) or "(record)" for e in exc.errors()}
                )
                problems.append(f"{path}:{number}: invalid {', '.join(fields)}")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot read ({type(exc).__name__})")
    return records


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def _customer_row(tenant_id: str, user: UserRecord, now: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "customer_id": user.user_id,
        "first_name": user.name.first_name,
        "last_name": user.name.last_name,
        "name_key": name_key(user.name.first_name, user.name.last_name),
        "email": user.email.casefold() if user.email else None,
        "zip": user.address.zip or None,
        "address": user.address.model_dump(),
        "payment_methods": [
            method.model_dump(exclude_none=True) for method in user.payment_methods.values()
        ],
        "order_ids": list(user.orders),
        "updated_at": now,
    }


def _order_row(tenant_id: str, order: OrderRecord, now: Any) -> dict[str, Any]:
    data = json.loads(order.model_dump_json())
    return {
        "tenant_id": tenant_id,
        "order_id": order.order_id,
        "customer_id": order.user_id,
        "status": order.status,
        "address": data["address"],
        "items": data["items"],
        "fulfillments": data["fulfillments"],
        "payment_history": data["payment_history"],
        "updated_at": now,
    }


def _upsert(
    connection: Connection, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...]
) -> None:
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), _BATCH):
        statement = dialect.insert(table)
        updates = {name: statement.excluded[name] for name in rows[0] if name not in keys}
        connection.execute(
            statement.on_conflict_do_update(index_elements=list(keys), set_=updates),
            rows[start : start + _BATCH],
        )
