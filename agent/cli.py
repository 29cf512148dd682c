"""The ``support-agent`` command line: one sub-command per operator task."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Sequence

from agent import (
    auth_commands,
    chat,
    crm_commands,
    demo,
    encryption_commands,
    ingest_command,
    memory_commands,
)
from agent.cli_failures import EXIT_BROKEN_PIPE, classify
from agent.eval import command as eval_command
from agent.observability import configure_observability
from agent.settings import Settings, SettingsError, load_settings

Command = Callable[[Settings, argparse.Namespace], int]


def _env_example(_settings: Settings, _args: argparse.Namespace) -> int:
    from agent.config_docs import env_example

    sys.stdout.write(env_example())
    return 0


def _health(settings: Settings, _args: argparse.Namespace) -> int:
    """Print the detailed health report; exit 1 when a critical dependency is down."""
    import asyncio
    import json

    from agent.services import Services

    async def check() -> dict[str, object]:
        async with await Services.open(settings) as services:
            return await services.health()

    try:
        report = asyncio.run(check())
    except Exception as exc:  # the command's whole job is to report failures
        from agent.redaction import redact_text

        print(f"support-agent health: cannot start: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, default=str))
    return 1 if report["status"] == "down" else 0


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="support-agent", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Command] = {}

    sub.add_parser("env-example", help="print every setting with its default (.env.example)")
    commands["env-example"] = _env_example
    sub.add_parser("health", help="check every dependency and print the report (exit 1 if down)")
    commands["health"] = _health
    memory_commands.register(sub, commands)
    crm_commands.register(sub, commands)
    ingest_command.register(sub, commands)
    demo.register(sub, commands)
    chat.register(sub, commands)
    auth_commands.register(sub, commands)
    eval_command.register(sub, commands)
    encryption_commands.register(sub, commands)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"support-agent: {exc}", file=sys.stderr)
        return 2
    settings = _quiet_unless_asked(settings)
    configure_observability(settings)
    try:
        return commands[args.command](settings, args)
    except (Exception, KeyboardInterrupt) as exc:
        failure = classify(exc)
        if failure is None:
            raise
        if failure.code == EXIT_BROKEN_PIPE:
            _discard_stdout()
        print(f"support-agent {args.command}: {failure.message}", file=sys.stderr)
        return failure.code


def _quiet_unless_asked(settings: Settings) -> Settings:
    """A command talks to a person: its logs start at WARNING unless a level was set."""
    observability = settings.observability
    if "log_level" in observability.model_fields_set:
        return settings
    quiet = observability.model_copy(update={"log_level": "WARNING"})
    return settings.model_copy(update={"observability": quiet})


def _discard_stdout() -> None:
    """After a reader closed the pipe, send what is still buffered nowhere: otherwise the
    interpreter's final flush fails again and prints its own error (Python's documented
    recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
