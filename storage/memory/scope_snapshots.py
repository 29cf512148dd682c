"""Per-process snapshots of what remember's dedup tiers need to know about one scope.

Deciding whether a new fact duplicates an old one needs the scope's SimHashes and vectors
before the write; reading them costs a round trip that moves every vector of the user
(measured: 0.6-0.7 ms for 100 memories, as much as the write itself). A snapshot keeps them
in process, stamped with the scope's version (``memory_scope_versions``), and remember's
write only applies if that version is still current (see ``remember_postgres``): a stale
snapshot can cost a retry, never a wrong decision.

What a snapshot holds is derived data only: ids, SimHashes, content hashes, expiry times and
vectors (float16 as stored: 768 bytes per memory at 384 dimensions, widened per decision,
~30 µs per 100); never the text. The cache is bounded by the memories it holds in all; a
snapshot lives at most ``ttl_s`` (so a user erased through another process is not kept in
this one's memory for longer), and purge drops this process's snapshots of the user at
once. The SimHash bands are indexed in a dict, as the band table does in the database:
candidates come from equal bands, never from a scan.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from storage.memory import normalize, vector_codec

# (tenant, user, content type, vector byte width): a snapshot of vectors of one width.
ScopeKey = tuple[str, str, str, int]


@dataclass(frozen=True, slots=True)
class ScopeSnapshot:
    """Immutable: writers replace a snapshot, so readers in other threads never see half."""

    version: int | None
    ids: tuple[str, ...] = ()
    simhashes: tuple[int, ...] = ()
    hashes: dict[str, int] = field(default_factory=dict)
    expires_at: np.ndarray = field(default_factory=lambda: np.empty(0))
    vectors: bytes = b""
    dimension: int = 0
    band_index: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    loaded_at: float = 0.0

    @classmethod
    def load(cls, row: Any, dimension: int) -> ScopeSnapshot:
        """From the snapshot query's one row: version, then aggregated columns."""
        version, ids, simhashes, hashes, expires, blob = row
        ids = tuple(ids or ())
        blob = bytes(blob or b"")
        simhashes = tuple(normalize.to_unsigned(value) for value in simhashes or ())
        return cls(
            version=version,
            ids=ids,
            simhashes=simhashes,
            hashes={value: index for index, value in enumerate(hashes or ())},
            expires_at=_expiries(expires or ()),
            vectors=blob,
            dimension=dimension,
            band_index=_band_index(simhashes),
            loaded_at=time.monotonic(),
        )

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
        matrix = vector_codec.decode(self.vectors, len(self.ids), self.dimension)
        live = self.expires_at > now
        if live.all():
            return list(self.ids), matrix
        ids = [memory_id for memory_id, ok in zip(self.ids, live, strict=True) if ok]
        return ids, matrix[live]

    def with_expiry(self, version: int, memory_id: str, expires_at: float | None) -> ScopeSnapshot:
        """After this process's refresh of a duplicate (which may extend its TTL)."""
        index = _index_of(self.ids, memory_id)
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
        if _index_of(self.ids, memory_id) is not None:
            return self.with_expiry(version, memory_id, expires_at)
        position = len(self.ids)
        simhash = normalize.to_unsigned(simhash)
        band_index = dict(self.band_index)
        for key in enumerate(normalize.bands(simhash)):
            band_index[key] = (*band_index.get(key, ()), position)
        if vector is not None and vector.shape[0] == self.dimension:
            blob = vector_codec.encode(vector)  # as the database holds it
        else:
            blob = bytes(vector_codec.width(self.dimension))  # matches nothing
        return replace(
            self,
            version=version,
            ids=(*self.ids, memory_id),
            simhashes=(*self.simhashes, simhash),
            hashes={**self.hashes, content_hash: position},
            expires_at=np.append(self.expires_at, np.inf if expires_at is None else expires_at),
            vectors=self.vectors + blob,
            band_index=band_index,
        )


def _index_of(ids: tuple[str, ...], memory_id: str) -> int | None:
    try:
        return ids.index(memory_id)
    except ValueError:
        return None


def _expiries(values: Any) -> np.ndarray:
    return np.array([np.inf if value is None else value for value in values], dtype=np.float64)


def _band_index(simhashes: tuple[int, ...]) -> dict[tuple[int, int], tuple[int, ...]]:
    index: dict[tuple[int, int], list[int]] = {}
    for position, simhash in enumerate(simhashes):
        for key in enumerate(normalize.bands(simhash)):
            index.setdefault(key, []).append(position)
    return {key: tuple(positions) for key, positions in index.items()}


class ScopeSnapshots:
    """An LRU of snapshots bounded by the memories they hold, each used for ``ttl_s``."""

    def __init__(self, max_memories: int, ttl_s: float) -> None:
        self._entries: OrderedDict[ScopeKey, ScopeSnapshot] = OrderedDict()
        self._lock = threading.Lock()
        self._max_memories = max_memories
        self._held = 0
        self._ttl_s = ttl_s

    def get(self, key: ScopeKey) -> ScopeSnapshot | None:
        with self._lock:
            snapshot = self._entries.get(key)
            if snapshot is None:
                return None
            if time.monotonic() - snapshot.loaded_at > self._ttl_s:
                self._pop(key)
                return None
            self._entries.move_to_end(key)
            return snapshot

    def put(self, key: ScopeKey, snapshot: ScopeSnapshot) -> None:
        if self._ttl_s <= 0 or self._max_memories <= 0 or len(snapshot.ids) > self._max_memories:
            return
        with self._lock:
            self._pop(key)
            self._entries[key] = snapshot
            self._held += len(snapshot.ids)
            while self._held > self._max_memories:
                self._pop(next(iter(self._entries)))

    def drop(self, key: ScopeKey) -> None:
        with self._lock:
            self._pop(key)

    def drop_user(self, tenant_id: str, user_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == tenant_id and k[1] == user_id]:
                self._pop(key)

    def _pop(self, key: ScopeKey) -> None:
        snapshot = self._entries.pop(key, None)
        if snapshot is not None:
            self._held -= len(snapshot.ids)

    def __len__(self) -> int:
        return len(self._entries)
