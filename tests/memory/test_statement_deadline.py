"""A database statement ends with its call's deadline, not at the configured statement_timeout.

Sync statements cannot be interrupted from Python, so the deadline reaches the server as the
statement's ``statement_timeout`` (``Database(time_left=...)``, wired by ``Services``).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from storage.config import DatabaseConfig
from storage.engine import Database
from tools.errors import ToolError
from tools.resilience import Resilience, ResilienceConfig, budget, remaining

DEADLINE_S = 1.0


def _settings(database: Database) -> int:
    with database.transaction() as connection:
        return int(
            connection.execute(
                text("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
            ).scalar_one()
        )


def test_a_slow_statement_ends_at_the_deadline(postgres_url: str) -> None:
    database = Database(DatabaseConfig(url=postgres_url), time_left=remaining)
    policy = {"timeout_s": DEADLINE_S, "total_timeout_s": DEADLINE_S, "max_attempts": 1}
    with Resilience(ResilienceConfig.model_validate({"dependencies": {"memory": policy}})) as r:

        @r.guard("memory", operation="slow")
        def slow() -> None:
            with database.transaction() as connection:
                connection.execute(text("SELECT pg_sleep(10)"))

        started = time.monotonic()
        with pytest.raises(ToolError):
            slow()
        elapsed = time.monotonic() - started
    print(f"\nthe statement ended {elapsed - DEADLINE_S:+.3f} s after the deadline")
    assert elapsed < DEADLINE_S + 1.0  # not the configured 15 s
    # Outside a deadline the configured value is back; within one, it follows the budget.
    assert _settings(database) == 15_000
    with budget(3.0):
        assert 2_000 <= _settings(database) <= 3_000
    assert _settings(database) == 15_000
    database.dispose()


def test_without_time_left_nothing_changes(postgres_url: str) -> None:
    database = Database(DatabaseConfig(url=postgres_url))
    with budget(3.0):
        assert _settings(database) == 15_000
    database.dispose()
