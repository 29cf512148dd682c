"""Per-process snapshots of what remember's dedup tiers need to know about one scope.

Deciding whether a new fact duplicates an old one needs the scope's SimHashes and vectors
before the write; reading them costs a round trip that moves every vector of the user
(measured: 0.6-0.7 ms for 100 memories, as much as the write itself). A snapshot keeps them
in process, stamped with the scope's version (``memory_scope_versions``), and remember's
write only applies if that version is still current (see ``remember_postgres``): a stale
snapshot can cost a retry, never a wrong decision.

What a snapshot holds is derived data only: ids, SimHashes, content hashes, expiry times and
vectors; never the text. Vectors are kept widened to float32 from the float16 the database
holds (the same values, so a decision matches one taken from a fresh read): a decision is
one matrix product (~2 µs for 100 x 384) instead of widening every vector again (~25 µs).
Everything lives in a ``ScopeLog`` shared along the chain of snapshots this process's writes
produce, so a write appends one memory instead of copying them all. The cache is bounded by
an estimate of the bytes it holds. A snapshot is used for at most ``ttl_s`` after it was
read, and leaves memory at the latest ``ttl_s`` after its last use, at the cache's next
operation (so a user erased through another process does not linger longer while this one
works); purge drops this process's snapshots of the user at once. The SimHash bands are
indexed in a dict, as the band table does in the database: candidates come from equal bands,
never from a scan.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from storage.memory import normalize, vector_codec

# (tenant, user, content type, vector byte width): a snapshot of vectors of one width.
ScopeKey = tuple[str, str, str, int]
# Everything a memory costs in a snapshot besides its vector row and expiry (id and hash
# strings, band and hash dict entries, list slots): 975-1,374 bytes measured with tracemalloc
# for scopes of 1,000 down to 10 memories; the larger figure.
BYTES_PER_MEMORY = 1_376
_BAND_SHIFT = 16  # a band's index key: its number above its value (bands are <= 11 bits)


def _band_keys(simhash: int) -> list[int]:
    return [band << _BAND_SHIFT | value for band, value in enumerate(normalize.bands(simhash))]


def _band_index(simhashes: list[int]) -> dict[int, list[int]]:
    """Positions by band key, each band's values cut from all hashes at once in numpy."""
    hashes = np.array(simhashes, dtype=np.uint64)
    index: dict[int, list[int]] = {}
    shift = 0
    for band, width in enumerate(normalize.BAND_WIDTHS):
        values = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        for position, key in enumerate((values | np.uint64(band << _BAND_SHIFT)).tolist()):
            index.setdefault(key, []).append(position)
        shift += width
    return index


class ScopeLog:
    """A scope's memories as this process knows them: append-only, shared by the chain of
    snapshots this process's writes make; a snapshot sees the first ``count`` of them.

    Positions are only ever appended, so a row, band entry or hash entry at or past a
    snapshot's count does not exist for it, and a write costs O(1) instead of a copy of
    every column. An append from a snapshot that is not the log's end (another thread's
    write from the same snapshot got there first) branches: it copies that snapshot's
    memories into a log of its own. An expiry is updated in place, and only after the write
    that changed it committed, so it is the database's truth for every snapshot that sees
    that memory. Writers take the lock; readers never do (an array is replaced by a larger
    copy, never changed below any snapshot's count except for those expiries): they rely on
    the GIL making one list append, dict insert or lookup atomic, and never iterate a dict a
    writer may grow (a branch copies under the lock).
    """

    def __init__(
        self,
        ids: list[str],
        simhashes: list[int],
        hashes: dict[str, int],
        vectors: np.ndarray,
        expires_at: np.ndarray,
    ) -> None:
        self.ids = ids
        self.simhashes = simhashes
        self.hashes = hashes
        self.bands = _band_index(simhashes)
        self.vectors = vectors
        self.expires_at = expires_at
        self._lock = threading.Lock()

    @classmethod
    def of(
        cls,
        ids: Sequence[str],
        simhashes: Sequence[int],
        hashes: Sequence[str | None],
        expires_at: Sequence[float | None],
        vectors: np.ndarray,
    ) -> ScopeLog:
        """From columns of equal length (a hash may be None: not known to be live)."""
        return cls(
            list(ids),
            [normalize.to_unsigned(value) for value in simhashes],
            {key: position for position, key in enumerate(hashes) if key is not None},
            vectors,
            np.array([np.inf if value is None else value for value in expires_at], np.float64),
        )

    @property
    def nbytes(self) -> int:
        return self.vectors.nbytes + self.expires_at.nbytes + len(self.ids) * BYTES_PER_MEMORY

    def appended(
        self,
        count: int,
        memory_id: str,
        simhash: int,
        content_hash: str,
        expires_at: float | None,
        vector: np.ndarray,
    ) -> ScopeLog:
        """A log whose first ``count + 1`` memories are these ``count`` and this one."""
        with self._lock:
            if len(self.ids) == count:
                if count == len(self.expires_at):
                    self._grow(count + max(8, count // 4))
                self._put(memory_id, simhash, content_hash, expires_at, vector)
                return self
            # Under the lock: another writer at the end must not change the dicts copied.
            branch = self._branch(count)
        return branch.appended(count, memory_id, simhash, content_hash, expires_at, vector)

    def set_expiry(self, position: int, expires_at: float | None) -> None:
        with self._lock:
            self.expires_at[position] = np.inf if expires_at is None else expires_at

    def _grow(self, capacity: int) -> None:
        used = len(self.ids)
        vectors = np.zeros((capacity, self.vectors.shape[1]), np.float32)
        vectors[:used] = self.vectors[:used]
        expires_at = np.zeros(capacity, np.float64)
        expires_at[:used] = self.expires_at[:used]
        self.vectors, self.expires_at = vectors, expires_at

    def _branch(self, count: int) -> ScopeLog:
        hash_at = {position: key for key, position in self.hashes.items() if position < count}
        return ScopeLog.of(
            self.ids[:count],
            self.simhashes[:count],
            [hash_at.get(position) for position in range(count)],
            self.expires_at[:count].tolist(),
            self.vectors[:count].copy(),
        )

    def _put(
        self,
        memory_id: str,
        simhash: int,
        content_hash: str,
        expires_at: float | None,
        vector: np.ndarray,
    ) -> None:
        position = len(self.ids)
        simhash = normalize.to_unsigned(simhash)
        self.vectors[position] = vector
        self.expires_at[position] = np.inf if expires_at is None else expires_at
        self.simhashes.append(simhash)
        for key in _band_keys(simhash):
            self.bands.setdefault(key, []).append(position)
        self.hashes[content_hash] = position
        self.ids.append(memory_id)  # last: readers of the log's end never see half a memory


@dataclass(frozen=True, slots=True)
class ScopeSnapshot:
    """The first ``count`` memories of a log at ``version``. Immutable: writers make a new
    snapshot, so readers in other threads never see a decision's inputs change."""

    version: int | None
    log: ScopeLog
    count: int
    loaded_at: float = 0.0

    @classmethod
    def load(cls, rows: Sequence[Any], dimension: int) -> ScopeSnapshot:
        """From the snapshot query's rows: (version, id, simhash, content hash, expiry,
        vector) per memory; a scope without memories is one row, of its version only."""
        memories = [row for row in rows if row[1] is not None]
        _, ids, simhashes, hashes, expires_at, blobs = (
            zip(*memories, strict=True) if memories else ((),) * 6
        )
        vectors = vector_codec.decode(b"".join(blobs), len(ids), dimension)
        log = ScopeLog.of(ids, simhashes, hashes, expires_at, vectors)
        return cls(rows[0][0], log, len(ids), time.monotonic())

    @property
    def nbytes(self) -> int:
        """What this snapshot keeps alive, roughly (for the cache's budget)."""
        return self.log.nbytes

    def exact(self, content_hash: str, now: float) -> bool:
        position = self.log.hashes.get(content_hash)
        return position is not None and position < self.count and self._live(position, now)

    def near_candidates(self, simhash: int, now: float) -> list[tuple[str, int]]:
        """(id, simhash) of live memories sharing at least one band with ``simhash``."""
        found: set[int] = set()
        for key in _band_keys(normalize.to_unsigned(simhash)):
            found.update(p for p in self.log.bands.get(key, ()) if p < self.count)
        log = self.log
        return [(log.ids[p], log.simhashes[p]) for p in sorted(found) if self._live(p, now)]

    def live_vectors(self, now: float) -> tuple[list[str], np.ndarray]:
        """Ids and float32 vectors of the memories still live at ``now``."""
        matrix = self.log.vectors[: self.count]
        live = self.log.expires_at[: self.count] > now
        if live.all():
            return self.log.ids[: self.count], matrix
        positions = np.flatnonzero(live)
        return [self.log.ids[p] for p in positions], matrix[positions]

    def with_expiry(self, version: int, memory_id: str, expires_at: float | None) -> ScopeSnapshot:
        """After this process's refresh of a duplicate (which may extend its TTL)."""
        ids = self.log.ids
        position = next((p for p in range(self.count) if ids[p] == memory_id), None)
        return self._with_expiry_at(version, position, expires_at)

    def with_memory(
        self,
        version: int,
        memory_id: str,
        simhash: int,
        content_hash: str,
        expires_at: float | None,
        vector: np.ndarray | None,
    ) -> ScopeSnapshot:
        """After this process's own insert: the memory added (or, when the upsert met an
        exact duplicate, that memory's expiry refreshed)."""
        known = self.log.hashes.get(content_hash)
        if known is not None and known < self.count and self.log.ids[known] == memory_id:
            return self._with_expiry_at(version, known, expires_at)
        dimension = self.log.vectors.shape[1]
        if vector is not None and vector.shape[0] == dimension:
            row = vector_codec.as_stored(vector)  # what a fresh read would widen
        else:
            row = np.zeros(dimension, np.float32)  # matches nothing
        log = self.log.appended(self.count, memory_id, simhash, content_hash, expires_at, row)
        return replace(self, version=version, log=log, count=self.count + 1)

    def _live(self, position: int, now: float) -> bool:
        return bool(self.log.expires_at[position] > now)

    def _with_expiry_at(
        self, version: int, position: int | None, expires_at: float | None
    ) -> ScopeSnapshot:
        if position is not None:
            self.log.set_expiry(position, expires_at)
        return replace(self, version=version)


class ScopeSnapshots:
    """An LRU of snapshots bounded by the bytes they hold (estimated), each used for ``ttl_s``."""

    def __init__(self, max_bytes: int, ttl_s: float) -> None:
        self._entries: OrderedDict[ScopeKey, tuple[ScopeSnapshot, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_bytes = max_bytes
        self._held = 0
        self._ttl_s = ttl_s

    def get(self, key: ScopeKey) -> ScopeSnapshot | None:
        with self._lock:
            self._drop_expired()
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._expired(entry[0]):
                self._pop(key)
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: ScopeKey, snapshot: ScopeSnapshot) -> None:
        size = snapshot.nbytes
        if self._ttl_s <= 0 or self._max_bytes <= 0 or size > self._max_bytes:
            return
        with self._lock:
            self._drop_expired()
            self._pop(key)
            self._entries[key] = (snapshot, size)
            self._held += size
            while self._held > self._max_bytes:
                self._pop(next(iter(self._entries)))

    def drop(self, key: ScopeKey) -> None:
        with self._lock:
            self._pop(key)

    def drop_user(self, tenant_id: str, user_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == tenant_id and k[1] == user_id]:
                self._pop(key)

    def _expired(self, snapshot: ScopeSnapshot) -> bool:
        return time.monotonic() - snapshot.loaded_at > self._ttl_s

    def _drop_expired(self) -> None:
        """Drop expired snapshots from the least recently used end, so one nobody asks for
        again (an erased user's, say) does not outlive its TTL for long while the cache is
        in use: it reaches that end as other scopes are used."""
        while self._entries:
            key, (snapshot, _) = next(iter(self._entries.items()))
            if not self._expired(snapshot):
                return
            self._pop(key)

    def _pop(self, key: ScopeKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._held -= entry[1]

    @property
    def held_bytes(self) -> int:
        return self._held

    def __len__(self) -> int:
        return len(self._entries)
