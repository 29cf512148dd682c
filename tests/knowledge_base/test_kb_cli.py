"""``support-agent ingest``: summary table, exit status, and a running server that sees it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from agent.cli import main
from agent.settings import load_settings
from tools.knowledge_base import open_knowledge_base

from .test_kb_cache import QUESTION, write_policy


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SUPPORT_ENVIRONMENT", "test")
    monkeypatch.delenv("REDIS_URL", raising=False)
    return tmp_path / "data"


def test_ingest_prints_the_summary_and_fails_on_a_bad_file(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = write_policy(tmp_path / "docs", 30)
    (docs / "broken.jsonl").write_text("{oops\n")

    assert main(["ingest", str(docs)]) == 1
    out, err = capsys.readouterr()
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    assert rows == {
        "added": "2",
        "unchanged": "0",
        "replaced": "0",
        "removed": "0",
        "failed": "1",
        "chunks added": "2",
        "chunks removed": "0",
    }
    assert "broken.jsonl: line 1: invalid JSON" in err

    (docs / "broken.jsonl").unlink()
    assert main(["ingest", str(docs)]) == 0
    out, _ = capsys.readouterr()
    assert "│ unchanged      │     2 │" in out


def test_a_running_server_sees_an_ingest_made_by_another_process(
    tmp_path: Path, data_dir: Path, local_embeddings: Embeddings
) -> None:
    docs = write_policy(tmp_path / "docs", 30)
    settings = load_settings()
    server = open_knowledge_base(settings.chroma, settings.knowledge_base, local_embeddings)
    try:
        assert main(["ingest", str(docs)]) == 0
        for _ in range(2):
            assert "30 days" in server.knowledge_base.search(QUESTION, k=1)[0].chunk
        assert server.cache.stats()["hits"] == 1

        write_policy(docs, 60)
        cli = Path(sys.executable).with_name("support-agent")
        done = subprocess.run(
            [str(cli), "ingest", str(docs)],
            env={**os.environ},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "│ replaced       │     1 │" in done.stdout

        assert "60 days" in server.knowledge_base.search(QUESTION, k=1)[0].chunk
        assert server.store.count() == 2
    finally:
        server.close()
