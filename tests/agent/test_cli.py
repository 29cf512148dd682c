"""Operator commands that span the whole system: health, and purge across backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from tests.openai_server import serve_model


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


@pytest.mark.parametrize(
    ("model", "key", "status"),
    [
        ("scripted", "sk-test-scripted-key", "ok"),
        ("no-such-model", "sk-test-scripted-key", "degraded"),
        ("scripted", "sk-wrong-Key-never-shown", "down"),
    ],
)
def test_health_checks_the_configured_chat_model(
    embedded: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    model: str,
    key: str,
    status: str,
) -> None:
    with serve_model(api_key="sk-test-scripted-key") as server:
        monkeypatch.setenv("SUPPORT_LLM__MODEL", model)
        monkeypatch.setenv("SUPPORT_LLM__BASE_URL", server.base_url)
        monkeypatch.setenv("SUPPORT_LLM__API_KEY", key)
        assert main(["health"]) == 0  # the chat model is not critical: offline answers remain
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["checks"]["chat_model"]["status"] == status
    assert "sk-wrong-Key-never-shown" not in captured.out + captured.err


def test_health_says_the_knowledge_base_and_crm_are_empty(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["health"]) == 0
    data = json.loads(capsys.readouterr().out)["checks"]["data"]
    assert data["status"] == "degraded"
    assert "support-agent ingest" in data["error"]
    assert "support-agent crm-load" in data["error"]
