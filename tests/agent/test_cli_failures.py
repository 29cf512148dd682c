"""Every known CLI failure: one line on stderr, no traceback, the documented exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import main
from agent.cli_failures import (
    EXIT_BROKEN_PIPE,
    EXIT_DATABASE,
    EXIT_INTERRUPTED,
    EXIT_OUTPUT,
    EXIT_REVISION,
    EXIT_SCHEMA,
    EXIT_USAGE,
)

CLI = Path(sys.executable).with_name("support-agent")
PASSWORD = "pw-Cli-Never-Shown"
UNREACHABLE = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nothing"
COMMANDS = {
    "export": ["export", "--user", "u1"],
    "sweep": ["sweep"],
    "purge": ["purge", "--user", "u1", "--yes"],
    "chat": ["chat", "--user", "u1"],
    "demo": ["demo"],
    "crm-load": ["crm-load", str(Path(__file__).resolve().parents[2] / "graphs" / "demo_data")],
}


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return tmp_path


def _one_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"support-agent {command}: ")
    assert "Traceback" not in err
    assert PASSWORD not in err
    return lines[0]


@pytest.mark.parametrize("name", [*COMMANDS, "migrate"])
def test_an_unreachable_database(
    name: str, embedded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("SUPPORT_DATABASE__CONNECT_TIMEOUT_S", "1")
    assert main(COMMANDS.get(name, [name])) == EXIT_DATABASE
    assert "database unreachable" in _one_line(capsys, name)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_unmigrated_postgres(
    name: str,
    embedded: Path,
    own_postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", own_postgres_url)
    assert main(COMMANDS[name]) == EXIT_SCHEMA
    assert "support-agent migrate" in _one_line(capsys, name)


def test_a_bad_revision(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--revision", "nonsense"]) == EXIT_REVISION
    assert "nonsense" in _one_line(capsys, "migrate")


def test_a_downgrade_needs_a_revision_and_a_yes(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["migrate", "--downgrade"]) == EXIT_USAGE
    assert "--revision" in _one_line(capsys, "migrate")
    assert main(["migrate", "--downgrade", "--revision", "base"]) == EXIT_USAGE
    assert "--yes" in _one_line(capsys, "migrate")
    assert main(["export", "--user", "u1"]) == 0  # the schema is still there


def test_an_unwritable_output(embedded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = embedded / "missing" / "x.json"
    assert main(["export", "--user", "u1", "--output", str(missing)]) == EXIT_OUTPUT
    assert str(missing) in _one_line(capsys, "export")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORT_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(SUPPORT_DATA_DIR=str(tmp_path / "data"), SUPPORT_ENVIRONMENT="test")
    return env


def test_a_reader_that_stops_early(tmp_path: Path) -> None:
    """``support-agent export | head -c0``: the pipe closes before the output is written."""
    process = subprocess.Popen(
        [str(CLI), "export", "--user", "u1"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE, err
    assert "Traceback" not in err
    assert err.strip() == "support-agent export: output closed early (broken pipe)"


def test_ctrl_c_leaves_chat(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(CLI), "chat", "--user", "u1"],
        env=_env(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        seen = b""
        while b"/quit to leave" not in seen:  # the prompt is up: chat waits for the customer
            chunk = process.stdout.read1(4096)
            assert chunk, process.stderr.read().decode()
            seen += chunk
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == EXIT_INTERRUPTED
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = process.stderr.read().decode()
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "support-agent chat: interrupted"
