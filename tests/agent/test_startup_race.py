"""Four processes starting together on an empty data directory all start.

Each process runs what every entry point runs first (the embedded schema check and
auto-migration), released at the same instant by a file appearing, so they really race.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

STARTUP = """
import os, sys, time
from storage.config import DatabaseConfig
from storage.engine import Database
from storage.migrate import current_revisions, ensure_schema, head_revisions
open(sys.argv[3], "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
database = Database(DatabaseConfig(url=f"sqlite:///{sys.argv[1]}"))
ensure_schema(database)
assert current_revisions(database) == head_revisions()
database.dispose()
"""
READY_S = 120


def test_four_processes_starting_on_an_empty_data_dir_all_start(tmp_path: Path) -> None:
    database, go = tmp_path / "data" / "support.db", tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", STARTUP, str(database), str(go), str(tmp_path / f"ready{i}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    try:
        deadline = time.monotonic() + READY_S
        while len(list(tmp_path.glob("ready*"))) < 4:  # all imported, all polling for "go"
            assert time.monotonic() < deadline, "the processes did not get ready"
            assert all(process.poll() is None for process in processes)
            time.sleep(0.05)
        go.touch()
        results = [
            (process.wait(timeout=120), process.stderr.read().decode()) for process in processes
        ]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0, 0], [err for _, err in results]
