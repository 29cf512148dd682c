"""A change token shared between processes through a small file, replaced atomically.

Readers call ``read()`` on hot paths: it costs one ``stat`` and re-reads the file only when
it changed, so checking "did another process change the data?" is nearly free.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path


class VersionFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._current = "0"

    def read(self) -> str:
        """The current token ("0" before the first ``bump``)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return "0"
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if signature != self._seen:
            self._current = self.path.read_text(encoding="ascii").strip() or "0"
            self._seen = signature
        return self._current

    def bump(self) -> str:
        """Write a fresh token (temp file + rename: readers never see a partial one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(token)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return token
