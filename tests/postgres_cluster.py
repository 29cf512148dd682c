"""A PostgreSQL cluster of the test's own, to restart or kill without touching the shared one.

``initdb`` into a temporary directory, ``pg_ctl`` to start it on a free loopback port (trust
auth, no fsync: it holds only test data), and ``restart()`` for ``pg_ctl restart -m fast``.
PostgreSQL refuses to run as root, so as root the commands run as the ``postgres`` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data_dir / "server.log")
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data_dir / "pgdata"),
            "-l",
            log,
            "-w",
            "-o",
            options,
            *extra,
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is dropped; returns once the server
        accepts connections again (``-w``)."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    """Yields a running cluster; stops it and deletes its files afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="support-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
    cluster = Cluster(data_dir, _free_port())
    try:
        cluster._run(
            "initdb", "-D", str(data_dir / "pgdata"), "-U", "postgres", "--auth=trust", "--no-sync"
        )
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
