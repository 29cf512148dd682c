"""A redis-server of a test's (or bench's) own, on a free port, so it can be killed,
frozen and restarted without touching the machine's shared Redis."""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``args`` are extra redis-server options, e.g. ``("--requirepass", "s3cret")``."""

    def __init__(self, directory: Path | None = None, args: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = tuple(args)
        self.password = (
            self.args[self.args.index("--requirepass") + 1]
            if "--requirepass" in self.args
            else None
        )
        self._directory = directory or Path(tempfile.mkdtemp(prefix="redis-server-"))
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self._process = subprocess.Popen(
            [
                "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self._directory)),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(
            port=self.port, password=self.password, socket_timeout=1, socket_connect_timeout=1
        )
        try:
            for _ in range(500):
                try:
                    client.ping()
                    return self
                except redis.ConnectionError:
                    time.sleep(0.02)
            raise RuntimeError(f"redis-server on port {self.port} did not start")
        finally:
            client.close()

    def kill(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)
            self._process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(
            port=self.port, password=self.password, decode_responses=True, socket_timeout=2
        )

    def commands(self) -> int:
        """Commands the server has run (``INFO commandstats``), Lua-internal ones included."""
        client = self.client()
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        return sum(int(v["calls"]) for k, v in stats.items() if not k.endswith("_info"))


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes (background threads)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False
