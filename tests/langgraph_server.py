"""Run ``langgraph dev`` on the project's ``langgraph.json`` for a test, on a free port.

The server runs in a subprocess with its own working directory (so it never reads or leaves
the ``.langgraph_api`` state a developer's own ``langgraph dev`` keeps in the repository), a
data directory the test prepared, and the environment the test gives it; it is always
stopped, and its log is kept for the test to read.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class DevServer:
    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(workdir: Path) -> Path:
    """The project's ``langgraph.json`` with its paths made absolute, in ``workdir``."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {
        name: str(ROOT / path.removeprefix("./")) for name, path in config["graphs"].items()
    }
    config["auth"]["path"] = str(ROOT / config["auth"]["path"].removeprefix("./"))
    config.pop("env", None)
    path = workdir / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def _env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL") and not key.startswith("SUPPORT_")
    }
    env.update(
        SUPPORT_ENVIRONMENT="test",
        SUPPORT_DATA_DIR=str(data_dir),
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def langgraph_dev(workdir: Path, data_dir: Path, env: dict[str, str]) -> Iterator[DevServer]:
    """A running ``langgraph dev``; stopped on exit."""
    port = free_port()
    log_path = workdir / "server.log"
    config = _config(workdir)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(LANGGRAPH),
                "dev",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--no-browser",
                "--no-reload",
                "--config",
                str(config),
            ],
            cwd=workdir,
            env=_env(data_dir, env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited early:\n{log_path.read_text()[-4000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not ready in time:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield DevServer(url, log_path)
    finally:
        _stop(process)
