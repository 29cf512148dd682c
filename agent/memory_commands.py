"""Operator sub-commands for the schema and the memory store: migrate, sweep, export, purge."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent.cli_failures import EXIT_USAGE, output_failure
from agent.settings import Settings
from storage.memory import MemoryStore, MemoryStoreError

Command = Callable[[Settings, argparse.Namespace], int]


def _confirmed_downgrade(args: argparse.Namespace) -> bool:
    """A downgrade drops tables or columns with their data: never without a yes."""
    if args.yes:
        return True
    question = f"downgrade to {args.revision} deletes the data of the removed tables; type yes: "
    if not sys.stdin.isatty():
        print(f"support-agent migrate: {question.split(';')[0]}; add --yes", file=sys.stderr)
        return False
    return input(question).strip().lower() == "yes"


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.engine import Database

    if args.downgrade and args.revision is None:
        print(
            "support-agent migrate: --downgrade needs --revision (e.g. -1, or base for nothing)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.downgrade and not _confirmed_downgrade(args):
        return EXIT_USAGE
    database = Database(settings.database)
    try:
        if args.downgrade:
            migrate.downgrade(database, args.revision)
        else:
            migrate.upgrade(database, args.revision or "head")
        print(f"{database.url}: at {sorted(migrate.current_revisions(database)) or ['base']}")
    finally:
        database.dispose()
    return 0


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[MemoryStore]:
    """A store on the configured database (schema checked or, for SQLite, applied)."""
    from storage.embeddings import build_embeddings
    from storage.engine import Database
    from storage.migrate import ensure_schema
    from storage.sealing import Keyring

    database = Database(settings.database)
    try:
        ensure_schema(database)
        embeddings = build_embeddings(settings.embeddings)
        keyring = Keyring(settings.encryption.keys)
        yield MemoryStore(database, embeddings, settings.memory, keyring)
    finally:
        database.dispose()


def _reported(command: Command) -> Command:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return command(settings, args)
        except MemoryStoreError as exc:
            print(f"support-agent {args.command}: {exc.message}", file=sys.stderr)
            return 1

    return run


def _sweep(settings: Settings, args: argparse.Namespace) -> int:
    from agent.maintenance import SWEEP_LOCK, SWEEP_LOCK_TTL_S
    from storage.locks import JobLocks
    from storage.redis import RedisHandle

    redis = RedisHandle.from_config(settings.redis)
    try:
        # One sweeper at a time across processes; the sweep itself is also safe to overlap.
        with JobLocks(redis).hold(SWEEP_LOCK, ttl_s=SWEEP_LOCK_TTL_S) as lock:
            if lock is None:
                print("another sweep is running; nothing done")
                return 0
            with open_store(settings) as store:
                deleted = store.sweep(batch_size=args.batch_size)
    finally:
        if redis is not None:
            redis.close()
    print(f"swept {deleted} expired or forgotten memories")
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from agent.customer_data import aexport_customer
    from agent.services import Services

    tenant = args.tenant or settings.tenant_id

    async def export() -> dict[str, Any]:
        async with await Services.open(settings) as services:
            return await aexport_customer(services, tenant, args.user)

    data = asyncio.run(export())
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if args.output:
        try:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            failure = output_failure(exc, args.output)
            print(f"support-agent export: {failure.message}", file=sys.stderr)
            return failure.code
        print(
            f"exported {len(data['memories'])} memories, {len(data['tickets'])} tickets to {args.output}"
        )
    else:
        print(text)
    return 0


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from agent.customer_data import apurge_customer
    from agent.services import Services

    tenant = args.tenant or settings.tenant_id
    if not args.yes:
        print("support-agent purge: erasing a user's data is final; add --yes", file=sys.stderr)
        return 2

    async def erase() -> dict[str, dict[str, int]]:
        async with await Services.open(settings) as services:
            return await apurge_customer(services, tenant, args.user)

    counts = asyncio.run(erase())
    print(f"purged tenant={tenant} user={args.user}")
    for backend, numbers in counts.items():
        print(f"  {backend}: " + " ".join(f"{name}={count}" for name, count in numbers.items()))
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    """Add the sub-commands to the ``support-agent`` parser."""
    parser = sub.add_parser("migrate", help="apply database migrations (Alembic)")
    parser.add_argument("--revision", default=None, help="target revision (default: head)")
    parser.add_argument("--downgrade", action="store_true", help="migrate back down to --revision")
    parser.add_argument("--yes", action="store_true", help="confirm a downgrade (it drops data)")
    commands["migrate"] = _migrate

    parser = sub.add_parser("sweep", help="hard-delete expired and long-forgotten memories")
    parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction")
    commands["sweep"] = _reported(_sweep)

    for name, help_text in (
        ("export", "print one user's memories and tickets as JSON (data portability)"),
        ("purge", "erase one user's memories, tickets and conversations (all backends)"),
    ):
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("--user", required=True, help="user id")
        parser.add_argument("--tenant", default=None, help="tenant id (default: SUPPORT_TENANT_ID)")
        if name == "export":
            parser.add_argument("--output", default=None, help="write to this file")
        else:
            parser.add_argument("--yes", action="store_true", help="confirm the erasure")
    commands["export"] = _reported(_export)
    commands["purge"] = _reported(_purge)

    from agent import memory_demo

    sub.add_parser("memory-demo", help="show the memory store working on embedded defaults")
    commands["memory-demo"] = memory_demo.run
