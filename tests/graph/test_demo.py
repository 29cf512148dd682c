"""The README's demo command, as a new user runs it: a fresh directory, no API key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).with_name("support-agent")


def _run_demo(workdir: Path) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL") and not key.startswith("SUPPORT_")
    }
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [str(CLI), "demo"], cwd=workdir, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_demo_shows_every_step_and_is_repeatable(tmp_path: Path) -> None:
    first = _run_demo(tmp_path)
    assert "added 40" in first
    assert "Sources: [1] When will I get my refund? (refund-timing.md)" in first
    assert "Order #W1000101 is **processed** (Hiking Boots, Water Bottle)" in first
    assert "Preference: Please only contact me by email, never by phone. → stored" in first
    assert "From our earlier conversations I have noted: Preference: Please only contact" in first
    assert "duplicate, not stored again" in first
    assert "paused for a human (interrupt)" in first
    assert "support agent (human)" in first
    assert "human reply recorded" in first
    assert (tmp_path / ".data" / "support.db").is_file()

    second = _run_demo(tmp_path)
    assert "added 0 · unchanged 40" in second
    assert "paused for a human (interrupt)" in second
