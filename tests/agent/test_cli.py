"""Operator commands that span the whole system: health, and purge across backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return tmp_path


def test_health_reports_each_dependency(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checks"]["database"]["status"] == "ok"
    assert report["checks"]["vector_store"]["status"] == "ok"
    assert report["checks"]["tools"]["status"] == "ok"


def test_health_fails_without_echoing_the_password(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:pw-N0tShown@127.0.0.1:1/x")
    monkeypatch.setenv("SUPPORT_DATABASE__CONNECT_TIMEOUT_S", "1")
    assert main(["health"]) == 1
    captured = capsys.readouterr()
    assert "cannot start" in captured.err
    assert "pw-N0tShown" not in captured.err + captured.out
