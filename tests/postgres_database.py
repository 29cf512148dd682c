"""Databases of a test's own on the shared PostgreSQL server, dropped afterwards, so tests
that migrate up and down or scan every table never see another test's schema."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import psycopg
from sqlalchemy import make_url


def libpq_url(url: str) -> str:
    """The URL psycopg takes (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A database of its own on the server, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"sa_test_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
