"""What a new memory is to the scope's current ones: new, a duplicate, or a correction.

Pure functions over the scope's live rows (fetched under the scope's lock by ``remember``),
so the decision is the same on every backend and testable without a database:

1. ``shortlist`` picks, from ids, hashes, SimHashes, slot keys and vectors alone, the few
   memories whose text must be read: same hash (exact), SimHash within the radius (near),
   cosine at or above the dedup threshold (semantic), a shared slot, or cosine at or above
   the supersede threshold (neighbour);
2. ``decide`` reads those texts: the closest candidate that ``guards`` call the same fact is
   the duplicate; otherwise every candidate it corrects is superseded (a shared slot with
   another value, or a neighbour that differs only by a negation or a direction), following
   the rules of ``storage.memory_types``. Two facts that differ in a number, a negation, a
   direction, a name or a slot value are never merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storage.config import MemoryConfig
from storage.memory import guards, slots, vector_codec
from storage.memory.models import DedupTier
from storage.memory_types import BY_NAME
from storage.sealing import PLAIN, TenantKey

TEXT_CANDIDATES = 8
_FLIPS = {"negation", "direction"}


@dataclass(frozen=True, slots=True)
class NewMemory:
    content: str
    content_type: str
    content_hash: str
    simhash: int
    slot_values: dict[str, str]
    slot_keys: str  # as stored: ``slots.keys``, keyed per tenant with encryption on
    vector: np.ndarray | None


@dataclass(slots=True)
class Current:
    """The scope's live memories as columns; vectors as a matrix (zeros where absent)."""

    ids: list[str]
    types: np.ndarray
    hashes: list[str]
    simhashes: np.ndarray
    slot_keys: list[str]
    matrix: np.ndarray

    @classmethod
    def read(cls, rows: list[Any], dimension: int, key: TenantKey = PLAIN) -> Current:
        ids, types, hashes, simhashes, slot_keys, blobs = (
            zip(*rows, strict=True) if rows else ((),) * 6
        )
        width = vector_codec.width(dimension)
        blank = bytes(width)
        opened = (None if blob is None else key.open_sized(blob, width) for blob in blobs)
        stored = [blob if blob is not None and len(blob) == width else blank for blob in opened]
        return cls(
            ids=list(ids),
            types=np.asarray(types, dtype=object),
            hashes=list(hashes),
            simhashes=np.asarray(simhashes, dtype=np.int64).view(np.uint64),
            slot_keys=list(slot_keys),
            matrix=vector_codec.decode(b"".join(stored), len(ids), dimension),
        )


@dataclass(slots=True)
class Shortlist:
    exact: str | None = None
    near: list[str] = field(default_factory=list)
    semantic: list[str] = field(default_factory=list)
    slotted: list[str] = field(default_factory=list)
    neighbours: list[str] = field(default_factory=list)

    def ids(self) -> list[str]:
        return list(dict.fromkeys(self.near + self.semantic + self.slotted + self.neighbours))


def _best(ids: list[str], indices: np.ndarray, key: np.ndarray) -> list[str]:
    """Up to TEXT_CANDIDATES ids of ``indices``, smallest ``key`` first."""
    chosen = indices[np.argsort(key[indices], kind="stable")][:TEXT_CANDIDATES]
    return [ids[i] for i in chosen]


def shortlist(new: NewMemory, current: Current, config: MemoryConfig) -> Shortlist:
    """Whole-scope comparisons in numpy: a scope of a thousand memories costs microseconds."""
    result = Shortlist()
    if not current.ids:
        return result
    same_type = current.types == new.content_type
    for i in np.flatnonzero(same_type):
        if current.hashes[i] == new.content_hash:
            result.exact = current.ids[i]
            return result
    if new.vector is not None and current.matrix.shape[1] == new.vector.shape[0]:
        similarity = current.matrix @ new.vector
    else:
        similarity = np.zeros(len(current.ids), np.float32)
    if config.simhash_radius:
        distance = np.bitwise_count(current.simhashes ^ np.uint64(new.simhash))
        near = np.flatnonzero(same_type & (distance <= config.simhash_radius))
        result.near = _best(current.ids, near, distance)
    if config.semantic_dedup:
        semantic = np.flatnonzero(same_type & (similarity >= config.semantic_threshold))
        result.semantic = _best(current.ids, semantic, -similarity)
    kind = BY_NAME[new.content_type]
    if kind.by_slot and new.slot_values:
        wanted = set(new.slot_keys.split())
        result.slotted = [
            current.ids[i]
            for i, keys in enumerate(current.slot_keys)
            if keys and BY_NAME[current.types[i]].by_slot and wanted & set(keys.split())
        ]
    if kind.by_neighbour:
        close = np.flatnonzero(same_type & (similarity >= config.supersede_threshold))
        result.neighbours = _best(current.ids, close, -similarity)
    return result


@dataclass(frozen=True, slots=True)
class Decision:
    duplicate: str | None = None
    tier: DedupTier | None = None
    superseded: tuple[str, ...] = ()


def corrects(new: NewMemory, old_text: str, slotted: bool, neighbour: bool) -> bool:
    """Whether the new memory makes the old one untrue (see the module docstring)."""
    if slotted:
        old = slots.recognise(old_text)
        if any(key in old and old[key] != value for key, value in new.slot_values.items()):
            return True
    if neighbour:
        found = set(guards.differences(new.content, old_text))
        return bool(found) and found <= _FLIPS
    return False


def decide(new: NewMemory, candidates: Shortlist, texts: dict[str, str]) -> Decision:
    if candidates.exact is not None:
        return Decision(candidates.exact, "exact")
    for tier, ids in (("near", candidates.near), ("semantic", candidates.semantic)):
        for memory_id in ids:
            if memory_id in texts and guards.same_fact(new.content, texts[memory_id]):
                return Decision(memory_id, tier)  # type: ignore[arg-type]
    slotted, neighbours = set(candidates.slotted), set(candidates.neighbours)
    superseded = tuple(
        memory_id
        for memory_id in dict.fromkeys(candidates.slotted + candidates.neighbours)
        if memory_id in texts
        and corrects(new, texts[memory_id], memory_id in slotted, memory_id in neighbours)
    )
    return Decision(superseded=superseded)
