"""Expired memories disappear from a running server without anyone typing a command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from agent.http import app
from agent.services import get_services
from storage.memory.scope import Scope

DEADLINE_S = 60


def test_the_scheduled_sweep_removes_an_expired_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUPPORT_MEMORY__SWEEP_INTERVAL_S", "0.2")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with TestClient(app) as client:
        services = get_services()
        scope = Scope(services.settings.tenant_id, "sweep-user")
        kept = services.memory.remember(scope, "Prefers e-mail over phone calls.")
        services.memory.remember(scope, "Is travelling until Friday.", ttl_s=1)
        deadline = time.monotonic() + DEADLINE_S
        while True:
            with services.database.transaction() as connection:
                rows = connection.execute(
                    text("SELECT id FROM memories WHERE user_id = :user"), {"user": scope.user_id}
                )
                ids = [row.id for row in rows]
            if ids == [kept.memory.id]:
                break
            assert time.monotonic() < deadline, f"still there after {DEADLINE_S}s: {ids}"
            time.sleep(0.2)
        [sweep] = client.get("/health").json()["checks"]["sweep"]
        metrics = client.get("/metrics").text
    assert sweep["status"] == "pass"
    assert sweep["details"]["running"] is True
    assert sweep["details"]["last_outcome"] == "done"
    assert 'support_memories_removed_total{how="swept"}' in metrics
    assert 'support_sweeps_total{outcome="done"}' in metrics
