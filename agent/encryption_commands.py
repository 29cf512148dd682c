"""Operator sub-commands for encryption at rest: make a key, rewrap after rotation, erase a
tenant by destroying its data key (see ``storage.sealing``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from agent.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]


def _encryption(settings: Settings, args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    from storage import sealing
    from storage.engine import Database
    from storage.migrate import ensure_schema

    if args.action == "new-key":
        print(Fernet.generate_key().decode())
        return 0
    keyring = sealing.Keyring(settings.encryption.keys)
    if not keyring.enabled:
        print(f"support-agent encryption: {sealing.SETTING} is not set", file=sys.stderr)
        return 2
    if args.action == "destroy-tenant" and not (args.tenant and args.yes):
        print(
            "support-agent encryption destroy-tenant: names --tenant and needs --yes "
            "(every sealed value of the tenant becomes unreadable, backups included)",
            file=sys.stderr,
        )
        return 2
    database = Database(settings.database)
    try:
        ensure_schema(database)
        with database.transaction() as connection:
            if args.action == "rewrap":
                print(f"rewrapped {keyring.rewrap(connection)} data keys with the newest key")
            else:
                found = sealing.destroy(connection, args.tenant)
                print(f"tenant {args.tenant}: data key {'destroyed' if found else 'not found'}")
    except sealing.SealingError as exc:
        print(f"support-agent encryption: {exc.message}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    parser = sub.add_parser(
        "encryption",
        help="encryption at rest: new-key, rewrap (after adding a key), destroy-tenant",
    )
    parser.add_argument("action", choices=("new-key", "rewrap", "destroy-tenant"))
    parser.add_argument("--tenant", default=None, help="tenant whose data key to destroy")
    parser.add_argument("--yes", action="store_true", help="confirm destroy-tenant")
    commands["encryption"] = _encryption
