"""Operator sub-command for the embedded CRM: ``crm-load PATH``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from agent.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]
USERS_NAMES = ("users.jsonl", "customers.jsonl")
ORDERS_NAMES = ("orders.jsonl",)


def _find(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / name for name in names if (folder / name).is_file()), None)


def _paths(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """A folder means its users/customers.jsonl and orders.jsonl; --users/--orders override."""
    users, orders = args.users, args.orders
    if args.path is not None:
        if args.path.is_dir():
            users = users or _find(args.path, USERS_NAMES)
            orders = orders or _find(args.path, ORDERS_NAMES)
        else:
            users = users or args.path
    return users, orders


def _crm_load(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.crm import CRMLoadError, load_jsonl
    from storage.engine import Database

    users, orders = _paths(args)
    if users is None and orders is None:
        print(
            "support-agent crm-load: no users.jsonl / customers.jsonl / orders.jsonl found",
            file=sys.stderr,
        )
        return 2
    tenant = args.tenant or settings.tenant_id
    database = Database(settings.database)
    try:
        migrate.ensure_schema(database)
        result = load_jsonl(database, tenant, users, orders, skip_invalid=args.skip_invalid)
    except CRMLoadError as exc:
        print(f"support-agent crm-load: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    print(f"tenant {result.tenant_id}: {result.customers} customers, {result.orders} orders loaded")
    for problem in result.skipped:
        print(f"skipped {problem}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    """Add the sub-commands to the ``support-agent`` parser."""
    parser = sub.add_parser(
        "crm-load", help="load customers and orders (tau2-retail JSONL) into the SQL CRM"
    )
    parser.add_argument(
        "path", type=Path, nargs="?", help="folder with users.jsonl + orders.jsonl, or a users file"
    )
    parser.add_argument("--users", type=Path, help="customers JSONL file")
    parser.add_argument("--orders", type=Path, help="orders JSONL file")
    parser.add_argument("--tenant", help="tenant to load into (default: settings tenant_id)")
    parser.add_argument(
        "--skip-invalid", action="store_true", help="load valid lines, report invalid ones"
    )
    commands["crm-load"] = _crm_load
