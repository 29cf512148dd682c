"""Shared fixtures: real PostgreSQL, Redis and SQLite, isolated per test session.

The services are required: if ``DATABASE_URL`` / ``REDIS_URL`` (default: this machine's
loopback servers) do not answer, the tests that need them fail; they are never skipped.
Each test session works in a database of its own, so parallel runs never see each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from agent.settings import Settings, load_settings
from tests.postgres_database import fresh_postgres_database, libpq_url

# Public data sets (StackFAQ, tau2 retail, ...) live beside the repository, never in it.
FIXTURES = Path(
    os.environ.get("TEST_FIXTURES_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
)
# CI sets this so that missing fixtures fail the run instead of skipping their tests.
FIXTURES_REQUIRED = os.environ.get("TEST_FIXTURES_REQUIRED", "") not in ("", "0", "false")
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# The service URLs are read once here and removed from the environment, with every SUPPORT_*
# variable: a test that builds settings gets the embedded defaults unless it asks for a
# service through a fixture, whatever the developer's or CI's shell exports.
SERVICE_URLS = {
    "DATABASE_URL": os.environ.pop("DATABASE_URL", None) or DEFAULT_DATABASE_URL,
    "REDIS_URL": os.environ.pop("REDIS_URL", None) or DEFAULT_REDIS_URL,
}
for _name in [name for name in os.environ if name.startswith("SUPPORT_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The public fixtures; without them their tests are skipped, saying how to get them."""
    if not FIXTURES.is_dir():
        reason = (
            f"public fixtures not found at {FIXTURES}: put the shared fixtures folder at "
            "../shared/fixtures beside the repository or point TEST_FIXTURES_DIR at it"
        )
        if FIXTURES_REQUIRED:
            pytest.fail(f"{reason} (TEST_FIXTURES_REQUIRED is set)")
        pytest.skip(reason)
    return FIXTURES


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The server's own database; tests use ``postgres_url`` instead."""
    url = SERVICE_URLS["DATABASE_URL"]
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL at DATABASE_URL is required and did not answer: {exc}")
    return url


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test session, dropped at the end."""
    with fresh_postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def own_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A database of this test's own, for tests that change or inspect the whole schema."""
    with fresh_postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'support.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on each relational backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = SERVICE_URLS["REDIS_URL"]
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at REDIS_URL is required and did not answer: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key namespace of this test's own; its keys are deleted afterwards."""
    prefix = f"satest{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(SERVICE_URLS["REDIS_URL"])
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for a test: embedded defaults in a temporary data dir, then overrides."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"environment": "test", "data_dir": tmp_path / "data"}
        values.update(overrides)
        return load_settings(**values)

    return build
