"""The operator commands work end to end on the embedded default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.settings import load_settings
from storage.engine import Database
from storage.memory import MemoryStore, Scope


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUPPORT_EMBEDDINGS__PROVIDER", "fake")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SUPPORT_DATABASE__URL", raising=False)
    return tmp_path


def test_migrate_export_sweep_purge(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert "at [" in capsys.readouterr().out
    settings = load_settings()
    database = Database(settings.database)
    from storage.embeddings import build_embeddings

    store = MemoryStore(database, build_embeddings(settings.embeddings), settings.memory)
    scope = Scope(settings.tenant_id, "cli-user")
    store.remember(scope, "The customer prefers email")
    database.dispose()

    output = embedded / "export.json"
    assert main(["export", "--user", "cli-user", "--output", str(output)]) == 0
    assert json.loads(output.read_text())["memories"][0]["content"] == "The customer prefers email"
    assert main(["sweep"]) == 0
    assert "swept 0" in capsys.readouterr().out
    assert main(["purge", "--user", "cli-user"]) == 2
    assert main(["purge", "--user", "cli-user", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "sqlite: memories=1 vectors=1 audit_entries=1 tickets=0" in out
    assert "checkpoints: threads=0" in out
    assert main(["export", "--user", "cli-user"]) == 0
    assert json.loads(capsys.readouterr().out)["memories"] == []


def test_bad_ids_are_reported_not_raised(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["purge", "--user", "x'; DROP TABLE memories; --", "--yes"]) == 1
    assert "user_id: must be 1-64 characters" in capsys.readouterr().err
