"""Encryption at rest from the entry points an operator touches: settings, Services and the CLI.

The embedded default with a key-encryption key set: the customer's words are in no byte of
the database files, ``export`` gives them back in plaintext, a key rotation followed by
``encryption rewrap`` lets the old key go, and ``encryption destroy-tenant`` erases a tenant.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from agent.cli import main
from agent.services import Services
from agent.settings import Settings, load_settings
from storage.memory import Scope


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUPPORT_EMBEDDINGS__PROVIDER", "fake")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SUPPORT_DATABASE__URL", raising=False)
    return tmp_path / "data"


def files_holding(directory: Path, needle: str) -> list[str]:
    files = [p for p in directory.rglob("*") if p.is_file()]
    return [p.name for p in files if needle.encode() in p.read_bytes()]


def new_key(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["encryption", "new-key"]) == 0
    return capsys.readouterr().out.strip()


def exported(capsys: pytest.CaptureFixture[str], user: str) -> list[str]:
    assert main(["export", "--user", user]) == 0
    return [memory["content"] for memory in json.loads(capsys.readouterr().out)["memories"]]


async def remember(settings: Settings, user: str, sentence: str) -> None:
    async with await Services.open(settings) as services:
        await services.memory.aremember(Scope(settings.tenant_id, user), sentence)


def test_sealed_at_rest_readable_by_the_operator_rotated_and_destroyed(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = new_key(capsys)
    monkeypatch.setenv("SUPPORT_ENCRYPTION__KEYS", "env://TEST_SUPPORT_KEK")
    monkeypatch.setenv("TEST_SUPPORT_KEK", old)
    settings = load_settings()
    secret = f"ZQX{uuid.uuid4().hex[:10]}"
    sentence = f"My code word is {secret}, call me on 503-555-0147"
    asyncio.run(remember(settings, "enc-user", sentence))
    assert files_holding(embedded, "enc-user"), "the scan reads the database files"
    assert files_holding(embedded, secret) == []
    assert exported(capsys, "enc-user") == [sentence]

    newer = new_key(capsys)
    monkeypatch.setenv("TEST_SUPPORT_KEK", f"{newer},{old}")
    assert main(["encryption", "rewrap"]) == 0
    # The tenant's data key and the checkpoints' (export opened them).
    assert "rewrapped 2 data keys" in capsys.readouterr().out
    monkeypatch.setenv("TEST_SUPPORT_KEK", newer)  # the old key is retired
    assert exported(capsys, "enc-user") == [sentence]

    assert main(["encryption", "destroy-tenant", "--tenant", settings.tenant_id]) == 2
    capsys.readouterr()
    assert main(["encryption", "destroy-tenant", "--tenant", settings.tenant_id, "--yes"]) == 0
    assert "data key destroyed" in capsys.readouterr().out
    assert exported(capsys, "enc-user") == []
