"""Benchmark of the memory store against the bare calls it wraps, side by side in one run.

Per backend (Postgres, SQLite) with N memories in one tenant spread over U users (recall
cost follows memories per user, the tenant's size only costs an index level):
- ``remember new / exact dup / near dup``: the store's remember with a precomputed
  embedding (the model's time is its own row), through every dedup tier, in scopes this
  the scope's live rows read under its lock on every call (nothing is cached);
- ``recall``: ranked recall with a precomputed query embedding (fetch, numpy, access update);
- ``raw INSERT`` / ``raw SELECT``: the same row inserted (one transaction each) and the same
  indexed fetch of one user's rows, with the bare driver (psycopg / sqlite3);
- ``bare remember floor``: the statements any remember of this design runs (BEGIN, the
  customer's lock, the read of their live rows, INSERT, audit INSERT, COMMIT) with the bare
  driver and no decision logic: the part of "remember new" no code change in the store can cut;
- ``PostgresStore put / search``: LangGraph's store on the same data, namespace (tenant, user);
- ``(sealed)``: the same remember and recall with encryption at rest on, in a second tenant
  holding the same data sealed with its data key (``storage.sealing``).
Then dedup precision/recall at the defaults, through the store's own decision (``decide``:
tiers plus the guard tier) on STS-B (score >= 4 is a duplicate), StackFAQ paraphrase pairs
(same doc_id) and our labelled customer-fact pairs (``tests/memory/data``: paraphrases,
updates, look-alike different facts, unrelated), with the number of merges of different
facts, and on the customer set the supersede precision/recall (updates are positives).

Run: ``.venv/bin/python -m bench.memory`` (10k memories, ~1-2 min) or ``--full`` (adds 100k
as 1,000 users x 100 and as 100 heavy users x 1,000; ~6 min). Needs DATABASE_URL's Postgres
(a scratch database is created and dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import insert, make_url

from storage import migrate
from storage.config import DatabaseConfig, MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import MemoryStore, Scope, decide, slots, vector_codec
from storage.memory import normalize as norm
from storage.memory.tables import memories
from storage.sealing import Keyring, TenantKey

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
CUSTOMER_PAIRS = (
    Path(__file__).resolve().parents[1] / "tests" / "memory" / "data" / "customer_fact_pairs.jsonl"
)
LAYOUTS = [(10_000, 100)]
FULL_LAYOUTS = [(10_000, 100), (100_000, 1_000), (100_000, 100)]
DIMENSION = 384
OPS = 200
TENANT = "bench-tenant"
SEALED_TENANT = "bench-sealed"
KEYRING = Keyring(SecretStr(Fernet.generate_key().decode()))
WORDS = [
    "order",
    "refund",
    "shipping",
    "email",
    "phone",
    "address",
    "invoice",
    "delivery",
    "courier",
    "parcel",
    "damaged",
    "late",
    "replacement",
    "warranty",
    "size",
    "colour",
    "blue",
    "red",
    "chair",
    "desk",
    "lamp",
    "monday",
    "friday",
    "weekend",
    "express",
    "standard",
    "premium",
    "account",
    "password",
    "login",
    "card",
    "paypal",
    "voucher",
    "discount",
    "return",
    "label",
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[int], Any], count: int = OPS, warmup: int = 10) -> tuple[float, float]:
    """(p50, p99) in microseconds."""
    return interleaved({"op": fn}, count, warmup)["op"]


def interleaved(
    operations: dict[str, Callable[[int], Any]], count: int = OPS, warmup: int = 10
) -> dict[str, tuple[float, float]]:
    """(p50, p99) in µs per operation, run round-robin so every operation sees the same
    machine load (on a shared 2-core box the load swings a lot within a minute)."""
    for i in range(warmup):
        for fn in operations.values():
            fn(-1 - i)
    samples: dict[str, list[float]] = {name: [] for name in operations}
    for i in range(count):
        for name, fn in operations.items():
            start = time.perf_counter_ns()
            fn(i)
            samples[name].append((time.perf_counter_ns() - start) / 1000)
    return {
        name: (statistics.median(values), percentile(values, 0.99))
        for name, values in samples.items()
    }


def sentence(rng: random.Random, i: int) -> str:
    return f"Customer note {i}: " + " ".join(rng.choice(WORDS) for _ in range(10))


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class Dataset:
    """``size`` memories of one tenant spread evenly over ``users`` users, with vectors."""

    def __init__(self, size: int, users: int) -> None:
        rng = random.Random(size)
        self.size = size
        self.texts = [sentence(rng, i) for i in range(size)]
        self.user_count = users
        self.users = [f"user-{i % users}" for i in range(size)]
        self.vectors = unit_vectors(np.random.default_rng(size), size)

    def rows(self, now: float, tenant: str, key: TenantKey) -> Iterator[dict[str, Any]]:
        for text, user, vector in zip(self.texts, self.users, self.vectors, strict=True):
            normal = norm.normalize(text)
            simhash = norm.simhash(normal, key.hash_key)
            yield {
                "id": uuid.uuid4().hex,
                "tenant_id": tenant,
                "user_id": user,
                "session_id": None,
                "content_type": "fact",
                "content": key.seal_text(text),
                "content_hash": key.digest(normal),
                "simhash": norm.to_signed(simhash),
                "importance": 0.5,
                "access_count": 0,
                "metadata_json": key.seal_text("{}"),
                "embedding": key.seal(vector_codec.encode(vector)),
                "created_at": now,
                "reinforced_at": now,
                "last_accessed_at": None,
                "expires_at": None,
                "deleted_at": None,
            }


def load(database: Database, data: Dataset) -> None:
    """The data in clear in ``TENANT`` and sealed in ``SEALED_TENANT``."""
    for tenant, keyring in ((TENANT, Keyring(None)), (SEALED_TENANT, KEYRING)):
        load_tenant(database, data, tenant, keyring)
    # Vacuumed too on Postgres: otherwise autovacuum takes the fresh rows' visibility map in
    # hand while the operations are timed, and the first layout measures it.
    with database.autocommit() as connection:
        connection.exec_driver_sql(
            "VACUUM ANALYZE" if database.backend == "postgresql" else "ANALYZE"
        )


def load_tenant(database: Database, data: Dataset, tenant: str, keyring: Keyring) -> None:
    batch_rows = []
    with database.transaction() as connection:
        key = keyring.key_for(connection, tenant, time.time())
        for row in data.rows(time.time(), tenant, key):
            batch_rows.append(row)
            if len(batch_rows) == 2_000:
                connection.execute(insert(memories), batch_rows)
                batch_rows = []
        if batch_rows:
            connection.execute(insert(memories), batch_rows)


RAW_INSERT_COLUMNS = (
    "id, tenant_id, user_id, content_type, content, content_hash, simhash, importance, "
    "access_count, metadata_json, embedding, created_at, reinforced_at"
)
RAW_SELECT = (
    "SELECT id, embedding, importance, reinforced_at FROM memories WHERE tenant_id = {p} "
    "AND user_id = {p} AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > {p})"
)


# The statements every remember of the design must run, with the bare driver and no
# decision logic: what is left of "remember new" once SQLAlchemy and our Python are gone.
FLOOR_READ = (
    "SELECT id, content_type, content_hash, simhash, slots, embedding FROM memories "
    "WHERE tenant_id = %s AND user_id = %s AND deleted_at IS NULL AND superseded_by IS NULL "
    "AND (expires_at IS NULL OR expires_at > %s)"
)
FLOOR_AUDIT = (
    "INSERT INTO memory_audit (at, tenant_id, user_id, action, memory_id, detail) "
    "VALUES (%s, %s, %s, 'remember', %s, '{}')"
)
FLOOR_KEY = "SELECT key_id, wrapped FROM tenant_keys WHERE tenant_id = %s"


def floor_remember(conn: psycopg.Connection, insert_sql: str, row: tuple[Any, ...]) -> None:
    """BEGIN; lock the customer; read their live rows (binary); INSERT; audit; COMMIT."""
    tenant, user = row[1], row[2]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (hash((tenant, user)),))
        conn.cursor(binary=True).execute(FLOOR_READ, (tenant, user, time.time())).fetchall()
        conn.execute(insert_sql, row)
        conn.execute(FLOOR_AUDIT, (time.time(), tenant, user, row[0]))


def raw_row(text: str, vector: np.ndarray, user: str = "raw-user") -> tuple[Any, ...]:
    normal = norm.normalize(text)
    return (
        uuid.uuid4().hex,
        TENANT,
        user,
        "fact",
        text,
        norm.content_hash(normal),
        norm.to_signed(norm.simhash(normal)),
        0.5,
        0,
        "{}",
        vector_codec.encode(vector),
        time.time(),
        time.time(),
    )


def store_operations(
    database: Database,
    data: Dataset,
    insert_once: Callable[[Any], Any],
    select_once: Callable[[str], Any],
) -> dict[str, Callable[[int], Any]]:
    """The store's operations and the bare driver's, keyed by table row name."""
    embeddings = LocalOnnxEmbeddings()
    store = MemoryStore(database, embeddings, MemoryConfig())
    sealed = MemoryStore(database, embeddings, MemoryConfig(), KEYRING)
    rng = random.Random(1)
    total = OPS + 20
    fresh = unit_vectors(np.random.default_rng(2), 3 * total)
    texts = [sentence(rng, 10_000_000 + i) for i in range(total)]
    raw_texts = [sentence(rng, 20_000_000 + i) for i in range(total)]
    queries = unit_vectors(np.random.default_rng(3), total)

    def scope(i: int, tenant: str = TENANT) -> Scope:
        return Scope(tenant, data.users[i % data.size])

    def remember_new(i: int) -> None:
        assert not store.remember(scope(2 * i), texts[i], embedding=fresh[i]).deduped

    def remember_exact(i: int) -> None:
        j = (i * 74) % data.size
        result = store.remember(scope(j), data.texts[j].upper() + "!", embedding=data.vectors[j])
        assert result.dedup_tier == "exact"

    def remember_near(i: int) -> None:
        j = 2 * ((i * 53 + 11) % (data.size // 2))
        near = data.texts[j].replace(":", ",", 1)
        result = store.remember(scope(j), near, embedding=fresh[total + i])
        assert result.dedup_tier in ("near", "exact")

    def recall(i: int) -> None:
        store.recall(scope(i * 7), "q", query_embedding=queries[i], limit=5)

    def remember_new_sealed(i: int) -> None:
        result = sealed.remember(scope(2 * i, SEALED_TENANT), texts[i], embedding=fresh[i])
        assert not result.deduped

    def recall_sealed(i: int) -> None:
        found = sealed.recall(scope(i * 7, SEALED_TENANT), "q", query_embedding=queries[i], limit=5)
        assert found, "the sealed rows are opened and ranked"

    return {
        "remember new": remember_new,
        "remember exact dup": remember_exact,
        "remember near dup": remember_near,
        "recall (k=5)": recall,
        "remember new (sealed)": remember_new_sealed,
        "recall (k=5) (sealed)": recall_sealed,
        "raw INSERT": lambda i: insert_once(raw_row(raw_texts[i], fresh[i])),
        "raw SELECT user rows": lambda i: select_once(data.users[(i * 7) % data.size]),
    }


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    admin = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"sa_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(server_url)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_postgres(server_url: str, data: Dataset) -> dict[str, Any]:
    from langgraph.store.base import PutOp
    from langgraph.store.postgres import PostgresStore

    with postgres_database(server_url) as libpq_url:
        database = Database(DatabaseConfig(url=libpq_url))
        migrate.upgrade(database)
        load(database, data)
        with (
            psycopg.connect(libpq_url, autocommit=True) as conn,
            psycopg.connect(libpq_url) as floor_conn,
            PostgresStore.from_conn_string(libpq_url) as lg_store,
        ):
            lg_store.setup()
            ops = [
                PutOp((TENANT, user), f"m{i}", {"content": text, "importance": 0.5})
                for i, (text, user) in enumerate(zip(data.texts, data.users, strict=True))
            ]
            for start in range(0, len(ops), 2_000):
                lg_store.batch(ops[start : start + 2_000])
            conn.execute("VACUUM ANALYZE")
            placeholders = ", ".join(["%s"] * 13)
            insert_sql = f"INSERT INTO memories ({RAW_INSERT_COLUMNS}) VALUES ({placeholders})"
            select_sql = RAW_SELECT.format(p="%s")
            operations = store_operations(
                database,
                data,
                lambda row: conn.execute(insert_sql, row),
                lambda user: conn.execute(select_sql, (TENANT, user, time.time())).fetchall(),
            )
            rng = random.Random(4)
            new_texts = [sentence(rng, 30_000_000 + i) for i in range(OPS + 20)]
            operations["PostgresStore put"] = lambda i: lg_store.put(
                (TENANT, data.users[i % data.size]),
                f"new{i}",
                {"content": new_texts[i], "importance": 0.5},
            )
            operations["PostgresStore search"] = lambda i: lg_store.search(
                (TENANT, data.users[(i * 7) % data.size]), limit=5
            )
            # Odd users: as many rows as the even ones "remember new" writes to.
            floor_rows = [
                raw_row(text, data.vectors[i], data.users[(2 * i + 1) % data.size])
                for i, text in enumerate(new_texts)
            ]
            operations["bare remember floor"] = lambda i: floor_remember(
                floor_conn, insert_sql, floor_rows[i]
            )
            results = interleaved(operations)
        database.dispose()
    return results


def bench_sqlite(data: Dataset) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        database = Database(DatabaseConfig(url=f"sqlite:///{path}"))
        migrate.upgrade(database)
        load(database, data)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        placeholders = ", ".join(["?"] * 13)
        insert_sql = f"INSERT INTO memories ({RAW_INSERT_COLUMNS}) VALUES ({placeholders})"
        select_sql = RAW_SELECT.format(p="?")

        def insert_once(row: Any) -> None:
            with conn:
                conn.execute(insert_sql, row)

        operations = store_operations(
            database,
            data,
            insert_once,
            lambda user: conn.execute(select_sql, (TENANT, user, time.time())).fetchall(),
        )
        results = interleaved(operations)
        conn.close()
        database.dispose()
    return results


def embedding_cost() -> tuple[float, float]:
    model = LocalOnnxEmbeddings()
    rng = random.Random(5)
    texts = [sentence(rng, i) for i in range(OPS + 10)]
    return timed(lambda i: model.embed_documents([texts[i]]), count=OPS // 2)


def pair_outcome(
    a: str, b: str, content_type: str, va: np.ndarray, vb: np.ndarray, config: MemoryConfig
) -> str:
    """What remember does with ``b`` when ``a`` is the scope's one memory: the store's own
    decision (``decide``), without a database. "merge", "supersede" or "keep"."""
    normal_a, normal_b = norm.normalize(a), norm.normalize(b)
    current = decide.Current(
        ids=["a"],
        types=np.asarray([content_type], dtype=object),
        hashes=[norm.content_hash(normal_a)],
        simhashes=np.asarray([norm.to_signed(norm.simhash(normal_a))], np.int64).view(np.uint64),
        slot_keys=[slots.keys(slots.recognise(a))],
        matrix=va[None, :],
    )
    slots_b = slots.recognise(b)
    new = decide.NewMemory(
        b,
        content_type,
        norm.content_hash(normal_b),
        norm.simhash(normal_b),
        slots_b,
        slots.keys(slots_b),
        vb,
    )
    candidates = decide.shortlist(new, current, config)
    decision = decide.decide(new, candidates, {"a": a} if candidates.ids() else {})
    if decision.duplicate is not None:
        return "merge"
    return "supersede" if decision.superseded else "keep"


def as_stored(vectors: np.ndarray) -> np.ndarray:
    """Vectors as remember stores them and decide reads them back (float16 rounding)."""
    return vector_codec.decode(vector_codec.encode(vectors), len(vectors), vectors.shape[1])


def scores(predicted: np.ndarray, label: np.ndarray) -> tuple[float, float, int, int]:
    """(precision, recall, predicted positives, false positives)."""
    hits = int((predicted & label).sum())
    positives = int(predicted.sum())
    return hits / max(positives, 1), hits / max(int(label.sum()), 1), positives, positives - hits


def quality_sets(
    model: LocalOnnxEmbeddings,
) -> dict[str, tuple[list[str], list[str], list[str], np.ndarray, np.ndarray]]:
    """Per set: texts a and b, memory type, embeddings (as stored) and the merge label."""

    def embedded(texts: list[str]) -> np.ndarray:
        return as_stored(model.embed_array(texts))

    stsb = [json.loads(line) for line in (FIXTURES / "stsb" / "dev.jsonl").open()]
    sets = {}
    left, right = [r["s1"] for r in stsb], [r["s2"] for r in stsb]
    sets["STS-B dev (score>=4)"] = (
        left,
        right,
        ["fact"] * len(stsb),
        embedded(left),
        embedded(right),
        np.array([r["score"] >= 4.0 for r in stsb]),
    )
    queries = [json.loads(line) for line in (FIXTURES / "stackfaq" / "queries_dev.jsonl").open()]
    texts = [q["text"] for q in queries]
    vectors = embedded(texts)
    i, j = np.triu_indices(len(queries), 1)
    docs = np.array([q["doc_id"] for q in queries])
    sets["StackFAQ same-doc pairs"] = (
        [texts[k] for k in i],
        [texts[k] for k in j],
        ["fact"] * len(i),
        vectors[i],
        vectors[j],
        docs[i] == docs[j],
    )
    return sets


def customer_pairs() -> list[dict[str, str]]:
    return [json.loads(line) for line in CUSTOMER_PAIRS.open()]


def dedup_quality(config: MemoryConfig) -> list[tuple[str, int, float, float, int, str]]:
    """Merge precision/recall, merges of different facts, and (customer set) supersede."""
    model = LocalOnnxEmbeddings()
    rows = []
    for name, (left, right, types, va, vb, label) in quality_sets(model).items():
        if len(left) > 20_000:
            # Pairs the cheap tiers and the dedup threshold cannot reach stay "keep": only
            # those above the semantic threshold or within the SimHash radius are decided.
            cosine = (va * vb).sum(axis=1)
            reachable = np.flatnonzero(
                cosine >= min(config.semantic_threshold, config.supersede_threshold) - 0.2
            )
        else:
            reachable = np.arange(len(left))
        merged = np.zeros(len(left), bool)
        for k in reachable:
            merged[k] = pair_outcome(left[k], right[k], types[k], va[k], vb[k], config) == "merge"
        precision, recall, _, wrong = scores(merged, label)
        rows.append((name, len(left), precision, recall, wrong, ""))
    pairs = customer_pairs()
    va = as_stored(model.embed_array([p["a"] for p in pairs]))
    vb = as_stored(model.embed_array([p["b"] for p in pairs]))
    outcome = np.array(
        [pair_outcome(p["a"], p["b"], p["type"], va[k], vb[k], config) for k, p in enumerate(pairs)]
    )
    relation = np.array([p["relation"] for p in pairs])
    precision, recall, _, wrong = scores(outcome == "merge", relation == "paraphrase")
    s_precision, s_recall, _, _ = scores(outcome == "supersede", relation == "update")
    rows.append(
        (
            "customer facts (ours)",
            len(pairs),
            precision,
            recall,
            wrong,
            f"supersede precision {s_precision:.3f} recall {s_recall:.3f}",
        )
    )
    return rows


def ratio(a: tuple[float, float] | None, b: tuple[float, float] | None) -> str:
    return "" if not a or not b else f"{a[0] / b[0]:.2f}x"


def print_table(
    data: Dataset, pg: dict[str, Any], lite: dict[str, Any], embed: tuple[float, float]
) -> None:
    size, users = data.size, data.user_count
    per_user = size // users
    print(
        f"\n== {size:,} memories in one tenant ({users} users x {per_user}), medians/p99 in µs =="
    )
    header = f"{'operation':<24}{'postgres p50':>14}{'p99':>10}{'sqlite p50':>13}{'p99':>10}"
    print(header)
    print("-" * len(header))
    names = [
        "remember new",
        "remember exact dup",
        "remember near dup",
        "recall (k=5)",
        "remember new (sealed)",
        "recall (k=5) (sealed)",
        "raw INSERT",
        "bare remember floor",
        "raw SELECT user rows",
        "PostgresStore put",
        "PostgresStore search",
    ]
    for name in names:
        p, s = pg.get(name), lite.get(name)
        cells = [
            f"{p[0]:>14,.0f}{p[1]:>10,.0f}" if p else f"{'':>24}",
            f"{s[0]:>13,.0f}{s[1]:>10,.0f}" if s else f"{'-':>13}{'':>10}",
        ]
        print(f"{name:<24}{cells[0]}{cells[1]}")
    print(f"{'embed one text (model)':<24}{embed[0]:>14,.0f}{embed[1]:>10,.0f}{'(same model)':>23}")
    print("ratios:")
    print(
        f"  remember new / raw INSERT:        pg {ratio(pg.get('remember new'), pg.get('raw INSERT'))}"
        f"   sqlite {ratio(lite.get('remember new'), lite.get('raw INSERT'))}"
    )
    print(
        f"  bare remember floor / raw INSERT: pg {ratio(pg.get('bare remember floor'), pg.get('raw INSERT'))}"
        "   (the design's statements alone: bare driver, no logic)"
    )
    print(
        f"  remember new / PostgresStore put: pg {ratio(pg.get('remember new'), pg.get('PostgresStore put'))}"
    )
    print(
        f"  recall / PostgresStore search:    pg {ratio(pg.get('recall (k=5)'), pg.get('PostgresStore search'))}"
        f"   sqlite {ratio(lite.get('recall (k=5)'), pg.get('PostgresStore search'))}"
    )
    sealed_new, sealed_recall = "remember new (sealed)", "recall (k=5) (sealed)"
    print(
        f"  sealed remember / raw INSERT:     pg {ratio(pg.get(sealed_new), pg.get('raw INSERT'))}"
        f"   sqlite {ratio(lite.get(sealed_new), lite.get('raw INSERT'))}"
    )
    print(
        f"  sealed recall / PostgresStore search: pg {ratio(pg.get(sealed_recall), pg.get('PostgresStore search'))}"
        f"   sqlite {ratio(lite.get(sealed_recall), pg.get('PostgresStore search'))}"
    )
    print(
        f"  sealed / clear:                   remember pg {ratio(pg.get(sealed_new), pg.get('remember new'))}"
        f" sqlite {ratio(lite.get(sealed_new), lite.get('remember new'))};"
        f" recall pg {ratio(pg.get(sealed_recall), pg.get('recall (k=5)'))}"
        f" sqlite {ratio(lite.get(sealed_recall), lite.get('recall (k=5)'))}"
    )
    print(
        f"  recall / raw SELECT user rows:    pg {ratio(pg.get('recall (k=5)'), pg.get('raw SELECT user rows'))}"
        f"   sqlite {ratio(lite.get('recall (k=5)'), lite.get('raw SELECT user rows'))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="also 100k memories per tenant: 1,000 users x 100, and 100 heavy users x 1,000",
    )
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    embed = embedding_cost()
    for size, users in FULL_LAYOUTS if args.full else LAYOUTS:
        data = Dataset(size, users)
        pg = bench_postgres(server_url, data)
        lite = bench_sqlite(data)
        print_table(data, pg, lite, embed)
    config = MemoryConfig()
    print(
        f"\n== dedup quality at the defaults (semantic {config.semantic_threshold}, SimHash "
        f"radius {config.simhash_radius}, supersede {config.supersede_threshold}, guard tier on) =="
    )
    print(f"{'pairs':<24}{'n':>9}{'precision':>11}{'recall':>8}{'wrong merges':>14}")
    for name, n, precision, recall, wrong, extra in dedup_quality(config):
        print(f"{name:<24}{n:>9,}{precision:>11.3f}{recall:>8.3f}{wrong:>14}  {extra}")


if __name__ == "__main__":
    main()
