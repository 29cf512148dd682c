"""Operator sub-command for server credentials: ``api-key``.

Prints a new API key once (hand it to the caller; it is not stored anywhere) and the entry
to add to the ``SUPPORT_AUTH__API_KEYS`` list, which holds only the key's SHA-256 digest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from pydantic import ValidationError

from agent.settings import Settings
from tools.runtime import ROLES

Command = Callable[[Settings, argparse.Namespace], int]


def _api_key(settings: Settings, args: argparse.Namespace) -> int:
    from agent.credentials import new_api_key

    try:
        key, entry = new_api_key(args.tenant or settings.tenant_id, args.user, args.role)
    except ValidationError:
        print("support-agent api-key: tenant and user must be valid ids", file=sys.stderr)
        return 1
    print(f"key (give it to the caller; it is shown only once): {key}")
    print(f"entry for SUPPORT_AUTH__API_KEYS: {json.dumps(entry)}")
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    """Add the sub-command to the ``support-agent`` parser."""
    parser = sub.add_parser("api-key", help="make an API key for the LangGraph server")
    parser.add_argument("--user", required=True, help="the caller's user id")
    parser.add_argument("--role", choices=ROLES, default="customer", help="what they may do")
    parser.add_argument("--tenant", help="their tenant (default: settings tenant_id)")
    commands["api-key"] = _api_key
