"""The probe endpoints an orchestrator and an operator rely on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url
from starlette.testclient import TestClient

from agent import services as services_module
from agent.http import app
from storage.config import DatabaseConfig
from storage.engine import Database
from storage.migrate import upgrade


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with TestClient(app) as test_client:
        yield test_client
    assert services_module._shared is None, "the lifespan must close the services"


def test_livez_answers_without_touching_dependencies(client: TestClient) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert services_module._shared is None


def test_readyz_and_health_on_embedded_defaults(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"
    response = client.get("/health")
    assert response.headers["content-type"] == "application/health+json"
    health = response.json()
    assert health["status"] == "warn"  # no Redis, an empty knowledge base and CRM
    [database] = health["checks"]["database"]
    assert database["status"] == "pass"
    assert database["observedUnit"] == "ms"
    assert database["details"]["pool"]["backend"] == "sqlite"
    [redis] = health["checks"]["redis"]
    assert redis["status"] == "warn"
    assert redis["critical"] is False
    assert "Redis" in redis["output"]
    [tools] = health["checks"]["tools"]
    assert tools["status"] == "pass"
    assert {"search_knowledge_base", "lookup_customer", "escalate_to_human", "remember"} <= set(
        tools["details"]
    )


def test_metrics_exposes_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_health_never_shows_the_database_password(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    database = Database(DatabaseConfig(url=postgres_url))
    upgrade(database)
    database.dispose()
    with_password = make_url(postgres_url).set(password="pw-Zq81-never-shown")
    monkeypatch.setenv("DATABASE_URL", with_password.render_as_string(hide_password=False))
    response = client.get("/health")
    assert response.json()["checks"]["database"][0]["status"] == "pass"
    assert "pw-Zq81-never-shown" not in response.text


def test_unreachable_database_is_not_ready(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:pw-secret@127.0.0.1:1/nowhere")
    monkeypatch.setenv("SUPPORT_DATABASE__CONNECT_TIMEOUT_S", "1")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "pw-secret" not in response.text
    assert client.get("/livez").status_code == 200
