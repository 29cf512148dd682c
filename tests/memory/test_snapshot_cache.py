"""The snapshot cache in isolation: a log shared by a chain of snapshots never changes what
a snapshot sees, and the byte budget holds (no database needed)."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from storage.memory import vector_codec
from storage.memory.scope_snapshots import BYTES_PER_MEMORY, ScopeSnapshot, ScopeSnapshots

DIMENSION = 8


def vector(seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return values / np.linalg.norm(values)


def snapshot(memories: int) -> ScopeSnapshot:
    rows = [
        (1, f"id-{i}", i, f"hash-{i}", None, vector_codec.encode(vector(i)))
        for i in range(memories)
    ]
    return ScopeSnapshot.load(rows or [(1, None, None, None, None, None)], DIMENSION)


def add(base: ScopeSnapshot, name: str, seed: int) -> ScopeSnapshot:
    return base.with_memory(2, name, seed, f"hash-{name}", None, vector(seed))


def test_two_writes_from_one_snapshot_each_keep_their_own_vector() -> None:
    """Two threads' writes from the same snapshot: the second must not overwrite the row
    the first appended to the shared matrix."""
    base = add(snapshot(2), "x", 50)  # its matrix has room for more rows
    first, second = add(base, "a", 100), add(base, "b", 200)

    ids_1, matrix_1 = first.live_vectors(now=0.0)
    ids_2, matrix_2 = second.live_vectors(now=0.0)
    _, base_matrix = base.live_vectors(now=0.0)

    assert (ids_1[-1], ids_2[-1]) == ("a", "b")
    np.testing.assert_array_equal(matrix_1[-1], vector_codec.as_stored(vector(100)))
    np.testing.assert_array_equal(matrix_2[-1], vector_codec.as_stored(vector(200)))
    assert base_matrix.shape == (3, DIMENSION)
    np.testing.assert_array_equal(matrix_1[:3], matrix_2[:3])


def test_a_write_at_the_logs_end_shares_it_and_an_older_snapshot_does_not_see_it() -> None:
    base = snapshot(20)
    grown = add(base, "a", 100)
    branch = add(base, "b", 200)

    assert grown.log is base.log  # O(1): appended in place
    assert branch.log is not base.log  # the position was taken: a log of its own
    assert base.exact("hash-a", now=0.0) is False
    assert grown.exact("hash-a", now=0.0) is True
    assert branch.exact("hash-a", now=0.0) is False
    assert ("a", 100) not in base.near_candidates(100, now=0.0)
    assert ("a", 100) in grown.near_candidates(100, now=0.0)
    assert base.live_vectors(now=0.0)[0] == [f"id-{i}" for i in range(20)]
    assert branch.live_vectors(now=0.0)[0][-1] == "b"


def test_an_expiry_refreshed_after_a_write_is_seen_by_every_snapshot_of_that_memory() -> None:
    base = snapshot(3)
    soon = add(base, "a", 100).with_memory(3, "id-0", 0, "hash-0", 5.0, vector(0))

    assert soon.count == 4  # the exact duplicate was refreshed, not added
    assert soon.live_vectors(now=10.0)[0] == ["id-1", "id-2", "a"]
    assert not soon.exact("hash-0", now=10.0)
    assert base.live_vectors(now=10.0)[0] == ["id-1", "id-2"]  # the older snapshot too


def test_a_write_sees_the_vector_a_fresh_read_would() -> None:
    """Vectors are kept as the database rounds them, so a warm decision and one taken after
    a reread compare the same numbers."""
    written = add(snapshot(2), "a", 7)
    reread = snapshot(2).with_memory(2, "a", 7, "hash-a", None, vector(7))
    assert written.live_vectors(0.0)[1].tobytes() == reread.live_vectors(0.0)[1].tobytes()
    stored = vector_codec.decode(vector_codec.encode(vector(7)), 1, DIMENSION)[0]
    np.testing.assert_array_equal(written.live_vectors(0.0)[1][-1], stored)


def test_the_cache_keeps_to_its_byte_budget_and_evicts_the_least_recent() -> None:
    one = snapshot(10)
    cache = ScopeSnapshots(max_bytes=3 * one.nbytes, ttl_s=60)
    for user in ("u1", "u2", "u3"):
        cache.put(("t", user, "fact", 16), one)
    assert cache.get(("t", "u1", "fact", 16)) is one  # now the most recent

    cache.put(("t", "u4", "fact", 16), one)

    assert cache.held_bytes <= 3 * one.nbytes
    assert cache.get(("t", "u2", "fact", 16)) is None
    assert cache.get(("t", "u1", "fact", 16)) is one
    log = one.log
    assert one.nbytes == log.vectors.nbytes + log.expires_at.nbytes + 10 * BYTES_PER_MEMORY


def test_a_zero_budget_keeps_nothing_not_even_an_empty_scope() -> None:
    cache = ScopeSnapshots(max_bytes=0, ttl_s=60)
    cache.put(("t", "u", "fact", 16), snapshot(0))
    assert len(cache) == 0


def test_an_expired_snapshot_nobody_asks_for_again_is_dropped_while_the_cache_is_used() -> None:
    """An erased user's snapshot in another process must not wait for a lookup of that user
    (which may never come) to leave memory."""
    cache = ScopeSnapshots(max_bytes=1 << 30, ttl_s=0.05)
    cache.put(("t", "erased", "fact", 16), snapshot(3))
    time.sleep(0.1)

    cache.put(("t", "other", "fact", 16), snapshot(3))

    assert len(cache) == 1
    assert cache.held_bytes == snapshot(3).nbytes


def test_threads_writing_from_one_snapshot_each_see_exactly_their_own_chain() -> None:
    """Eight writers start from the same snapshot (one wins its end, the others branch) and
    keep appending, while a reader of that first snapshot checks it never changes."""
    base = add(snapshot(5), "shared", 99)
    expected_base = base.live_vectors(now=0.0)[0]
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        while not stop.is_set():
            ids, matrix = base.live_vectors(now=0.0)
            if ids != expected_base or matrix.shape != (6, DIMENSION):
                failures.append(f"base changed: {len(ids)} ids")

    def write(writer: int) -> ScopeSnapshot:
        current = base
        for step in range(150):
            current = add(current, f"w{writer}-{step}", writer * 1_000 + step)
        return current

    reader = threading.Thread(target=read)
    reader.start()
    with ThreadPoolExecutor(max_workers=8) as pool:
        chains = list(pool.map(write, range(8)))
    stop.set()
    reader.join()

    assert failures == []
    for writer, chain in enumerate(chains):
        ids, matrix = chain.live_vectors(now=0.0)
        assert ids == expected_base + [f"w{writer}-{step}" for step in range(150)]
        np.testing.assert_array_equal(
            matrix[6:],
            np.stack([vector_codec.as_stored(vector(writer * 1_000 + s)) for s in range(150)]),
        )
        assert chain.exact(f"hash-w{writer}-149", now=0.0)
        assert not chain.exact(f"hash-w{(writer + 1) % 8}-149", now=0.0)


def test_a_branch_copies_consistently_while_another_thread_appends_at_the_end() -> None:
    """A branch copies the log's hash dict; a writer at the log's end must not change it
    mid-copy (that raised "dictionary changed size during iteration")."""
    old = snapshot(2_000)
    head = add(old, "first", 1)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:

        def extend() -> int:
            current = head
            for step in range(3_000):
                current = add(current, f"end-{step}", 10_000 + step)
            return current.count

        def branch() -> int:
            return sum(add(old, f"branch-{i}", 20_000 + i).count for i in range(30))

        with ThreadPoolExecutor(max_workers=3) as pool:
            extended = pool.submit(extend)
            branches = [pool.submit(branch) for _ in range(2)]
            assert extended.result() == 2_000 + 1 + 3_000
            assert [b.result() for b in branches] == [30 * 2_001] * 2
    finally:
        sys.setswitchinterval(interval)
