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

import numpy as np

from storage.config import MemoryConfig
from storage.memory import guards, normalize, slots, vector_codec
from storage.memory.models import DedupTier
from storage.memory_types import BY_NAME

TEXT_CANDIDATES = 8
_FLIPS = {"negation", "direction"}


@dataclass(frozen=True, slots=True)
class NewMemory:
    content: str
    content_type: str
    content_hash: str
    simhash: int
    slot_values: dict[str, str]
    vector: np.ndarray | None


@dataclass(slots=True)
class Current:
    """The scope's live memories, one entry per row, vectors as a matrix (zeros if absent)."""

    ids: list[str]
    types: list[str]
    hashes: list[str]
    simhashes: list[int]
    slot_keys: list[set[str]]
    matrix: np.ndarray

    @classmethod
    def read(cls, rows: list, dimension: int) -> Current:
        width = vector_codec.width(dimension) if dimension else -1
        blank = bytes(max(width, 0))
        blobs = [
            row.embedding if row.embedding and len(row.embedding) == width else blank
            for row in rows
        ]
        return cls(
            ids=[row.id for row in rows],
            types=[row.content_type for row in rows],
            hashes=[row.content_hash for row in rows],
            simhashes=[row.simhash for row in rows],
            slot_keys=[set(row.slots.split()) for row in rows],
            matrix=vector_codec.decode(b"".join(blobs), len(rows), dimension)
            if dimension
            else np.zeros((len(rows), 0), np.float32),
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


def shortlist(new: NewMemory, current: Current, config: MemoryConfig) -> Shortlist:
    result = Shortlist()
    kind = BY_NAME[new.content_type]
    similarity = (
        current.matrix @ new.vector
        if new.vector is not None and current.matrix.shape[1] == new.vector.shape[0]
        else np.zeros(len(current.ids), np.float32)
    )
    order = np.argsort(-similarity, kind="stable")
    near: list[tuple[int, str]] = []
    for i in order:
        memory_id, same_type = current.ids[i], current.types[i] == new.content_type
        if same_type and current.hashes[i] == new.content_hash:
            result.exact = memory_id
            return result
        if same_type and config.simhash_radius:
            distance = normalize.hamming(current.simhashes[i], new.simhash)
            if distance <= config.simhash_radius:
                near.append((distance, memory_id))
        if same_type and config.semantic_dedup and similarity[i] >= config.semantic_threshold:
            result.semantic.append(memory_id)
        if (
            kind.by_slot
            and BY_NAME[current.types[i]].by_slot
            and current.slot_keys[i] & new.slot_values.keys()
        ):
            result.slotted.append(memory_id)
        elif same_type and kind.by_neighbour and similarity[i] >= config.supersede_threshold:
            result.neighbours.append(memory_id)
    result.near = [memory_id for _, memory_id in sorted(near)][:TEXT_CANDIDATES]
    result.semantic = result.semantic[:TEXT_CANDIDATES]
    result.neighbours = result.neighbours[:TEXT_CANDIDATES]
    return result


@dataclass(frozen=True, slots=True)
class Decision:
    duplicate: str | None = None
    tier: DedupTier | None = None
    superseded: tuple[str, ...] = ()


def corrects(new: NewMemory, old_text: str, via_slot: bool) -> bool:
    """Whether the new memory makes the old one untrue (see the module docstring)."""
    if via_slot:
        old = slots.recognise(old_text)
        return any(key in old and old[key] != value for key, value in new.slot_values.items())
    found = set(guards.differences(new.content, old_text))
    return bool(found) and found <= _FLIPS


def decide(new: NewMemory, candidates: Shortlist, texts: dict[str, str]) -> Decision:
    if candidates.exact is not None:
        return Decision(candidates.exact, "exact")
    for tier, ids in (("near", candidates.near), ("semantic", candidates.semantic)):
        for memory_id in ids:
            if memory_id in texts and guards.same_fact(new.content, texts[memory_id]):
                return Decision(memory_id, tier)  # type: ignore[arg-type]
    superseded = [
        memory_id
        for memory_id in candidates.slotted
        if memory_id in texts and corrects(new, texts[memory_id], via_slot=True)
    ] + [
        memory_id
        for memory_id in candidates.neighbours
        if memory_id in texts and corrects(new, texts[memory_id], via_slot=False)
    ]
    return Decision(superseded=tuple(dict.fromkeys(superseded)))
