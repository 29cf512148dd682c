"""Per-process snapshots of what remember's dedup tiers need to know about one scope.

Deciding whether a new fact duplicates an old one needs the scope's SimHashes and vectors
before the write; reading them costs a round trip that moves every vector of the user
(measured: 0.6-0.7 ms for 100 memories, as much as the write itself). A snapshot keeps them
in process, stamped with the scope's version (``memory_scope_versions``), and remember's
write only applies if that version is still current (see ``remember_postgres``): a stale
snapshot can cost a retry, never a wrong decision.

What a snapshot holds is derived data only: ids, SimHashes, content hashes, expiry times and
vectors; never the text. Vectors are kept widened to float32 from the float16 the database
holds (the same values, so a decision matches one taken from a fresh read), in rows shared
along the chain of snapshots this process's writes produce: a decision is one matrix product
(~2 µs for 100 x 384) instead of widening every vector again (~25 µs), and a write appends
one row instead of copying them all. The cache is bounded by an estimate of the bytes it
holds; a snapshot lives at most ``ttl_s`` (so a user erased through another process is not
kept in this one's memory for longer), and purge drops this process's snapshots of the user
at once. The SimHash bands are indexed in a dict, as the band table does in the database:
candidates come from equal bands, never from a scan.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from storage.memory import normalize, vector_codec

# (tenant, user, content type, vector byte width): a snapshot of vectors of one width.
ScopeKey = tuple[str, str, str, int]
# Everything a memory costs in a snapshot besides its vector row (id and hash strings, band
# and hash dict entries, tuple slots, expiry): measured with tracemalloc, rounded up.
BYTES_PER_MEMORY = 1_152


class VectorRows:
    """An append-only float32 matrix shared by a chain of snapshots; each sees its first rows.

    An append writes past the end of every snapshot that shares the matrix, so no snapshot
    ever sees a row of its own change. When the row is already taken (another thread's write
    from a snapshot of the same length) or the matrix is full, the append copies instead.
    """

    __slots__ = ("_lock", "_matrix", "_used")

    def __init__(self, matrix: np.ndarray, used: int) -> None:
        self._matrix = matrix
        self._used = used
        self._lock = threading.Lock()

    @classmethod
    def of(cls, matrix: np.ndarray) -> VectorRows:
        return cls(matrix, matrix.shape[0])

    def first(self, count: int) -> np.ndarray:
        return self._matrix[:count]

    @property
    def nbytes(self) -> int:
        return self._matrix.nbytes

    def appended(self, count: int, row: np.ndarray) -> VectorRows:
        """Rows ``[0, count)`` of these and ``row`` after them."""
        with self._lock:
            if self._used == count < self._matrix.shape[0]:
                self._matrix[count] = row
                self._used += 1
                return self
        grown = np.empty((count + max(8, count // 4), self._matrix.shape[1]), np.float32)
        grown[:count] = self._matrix[:count]
        grown[count] = row
        return VectorRows(grown, count + 1)


def _no_vectors() -> VectorRows:
    return VectorRows.of(np.empty((0, 0), np.float32))


@dataclass(frozen=True, slots=True)
class ScopeSnapshot:
    """Immutable: writers replace a snapshot, so readers in other threads never see half."""

    version: int | None
    ids: tuple[str, ...] = ()
    simhashes: tuple[int, ...] = ()
    hashes: dict[str, int] = field(default_factory=dict)
    expires_at: np.ndarray = field(default_factory=lambda: np.empty(0))
    vectors: VectorRows = field(default_factory=_no_vectors)
    dimension: int = 0
    band_index: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    loaded_at: float = 0.0

    @classmethod
    def load(cls, rows: Sequence[Any], dimension: int) -> ScopeSnapshot:
        """From the snapshot query's rows: (version, id, simhash, content hash, expiry,
        vector) per memory; a scope without memories is one row, of its version only."""
        memories = [row for row in rows if row[1] is not None]
        ids = tuple(row[1] for row in memories)
        simhashes = tuple(normalize.to_unsigned(row[2]) for row in memories)
        matrix = vector_codec.decode(b"".join(row[5] for row in memories), len(ids), dimension)
        return cls(
            version=rows[0][0],
            ids=ids,
            simhashes=simhashes,
            hashes={row[3]: index for index, row in enumerate(memories)},
            expires_at=_expiries(row[4] for row in memories),
            vectors=VectorRows.of(matrix),
            dimension=dimension,
            band_index=_band_index(simhashes),
            loaded_at=time.monotonic(),
        )

    @property
    def nbytes(self) -> int:
        """What this snapshot keeps alive, roughly (for the cache's budget)."""
        return self.vectors.nbytes + len(self.ids) * BYTES_PER_MEMORY

    def exact(self, content_hash: str, now: float) -> bool:
        index = self.hashes.get(content_hash)
        return index is not None and bool(self.expires_at[index] > now)

    def near_candidates(self, simhash: int, now: float) -> list[tuple[str, int]]:
        """(id, simhash) of live memories sharing at least one band with ``simhash``."""
        found: set[int] = set()
        for key in enumerate(normalize.bands(normalize.to_unsigned(simhash))):
            found.update(self.band_index.get(key, ()))
        return [(self.ids[i], self.simhashes[i]) for i in sorted(found) if self.expires_at[i] > now]

    def live_vectors(self, now: float) -> tuple[list[str], np.ndarray]:
        """Ids and float32 vectors of the memories still live at ``now``."""
        matrix = self.vectors.first(len(self.ids))
        live = self.expires_at > now
        if live.all():
            return list(self.ids), matrix
        ids = [memory_id for memory_id, ok in zip(self.ids, live, strict=True) if ok]
        return ids, matrix[live]

    def with_expiry(self, version: int, memory_id: str, expires_at: float | None) -> ScopeSnapshot:
        """After this process's refresh of a duplicate (which may extend its TTL)."""
        return self._with_expiry_at(version, _index_of(self.ids, memory_id), expires_at)

    def _with_expiry_at(
        self, version: int, index: int | None, expires_at: float | None
    ) -> ScopeSnapshot:
        if index is None:
            return replace(self, version=version)
        expiries = self.expires_at.copy()
        expiries[index] = np.inf if expires_at is None else expires_at
        return replace(self, version=version, expires_at=expiries)

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
        known = self.hashes.get(content_hash)
        if known is not None and self.ids[known] == memory_id:
            return self._with_expiry_at(version, known, expires_at)
        position = len(self.ids)
        simhash = normalize.to_unsigned(simhash)
        band_index = dict(self.band_index)
        for key in enumerate(normalize.bands(simhash)):
            band_index[key] = (*band_index.get(key, ()), position)
        if vector is not None and vector.shape[0] == self.dimension:
            row = vector_codec.as_stored(vector)  # what a fresh read would widen
        else:
            row = np.zeros(self.dimension, np.float32)  # matches nothing
        return replace(
            self,
            version=version,
            ids=(*self.ids, memory_id),
            simhashes=(*self.simhashes, simhash),
            hashes={**self.hashes, content_hash: position},
            expires_at=np.append(self.expires_at, np.inf if expires_at is None else expires_at),
            vectors=self.vectors.appended(position, row),
            band_index=band_index,
        )


def _index_of(ids: tuple[str, ...], memory_id: str) -> int | None:
    try:
        return ids.index(memory_id)
    except ValueError:
        return None


def _expiries(values: Iterable[float | None]) -> np.ndarray:
    return np.array([np.inf if value is None else value for value in values], dtype=np.float64)


def _band_index(simhashes: tuple[int, ...]) -> dict[tuple[int, int], tuple[int, ...]]:
    index: dict[tuple[int, int], list[int]] = {}
    for position, simhash in enumerate(simhashes):
        for key in enumerate(normalize.bands(simhash)):
            index.setdefault(key, []).append(position)
    return {key: tuple(positions) for key, positions in index.items()}


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
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry[0].loaded_at > self._ttl_s:
                self._pop(key)
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: ScopeKey, snapshot: ScopeSnapshot) -> None:
        size = snapshot.nbytes
        if self._ttl_s <= 0 or self._max_bytes <= 0 or size > self._max_bytes:
            return
        with self._lock:
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

    def _pop(self, key: ScopeKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._held -= entry[1]

    @property
    def held_bytes(self) -> int:
        return self._held

    def __len__(self) -> int:
        return len(self._entries)
