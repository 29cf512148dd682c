"""Our labelled customer-fact pairs, through the real store on both backends.

Each pair is remembered into a fresh scope, a then b, with the real embedding model: a merge
must be a paraphrase (zero merges of different facts), and the operating point the README
publishes must hold: merge precision >= 0.95 and supersede precision >= 0.95.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from storage.config import MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import MemoryStore, Scope

PAIRS = Path(__file__).parent / "data" / "customer_fact_pairs.jsonl"


def test_no_merge_of_different_facts_and_the_published_precision(
    memory_database: Database, local_embeddings: LocalOnnxEmbeddings
) -> None:
    store = MemoryStore(memory_database, local_embeddings, MemoryConfig())
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    outcomes = []
    for index, pair in enumerate(json.loads(line) for line in PAIRS.open()):
        scope = Scope(tenant, f"user-{index}")
        store.remember(scope, pair["a"], content_type=pair["type"])
        result = store.remember(scope, pair["b"], content_type=pair["type"])
        outcome = "merge" if result.deduped else "supersede" if result.superseded else "keep"
        outcomes.append((pair["relation"], outcome, pair["a"], pair["b"]))

    wrong_merges = [o for o in outcomes if o[1] == "merge" and o[0] != "paraphrase"]
    assert wrong_merges == []
    merges = [o for o in outcomes if o[1] == "merge"]
    supersedes = [o for o in outcomes if o[1] == "supersede"]
    paraphrases = [o for o in outcomes if o[0] == "paraphrase"]
    updates = [o for o in outcomes if o[0] == "update"]
    assert len(merges) >= 0.8 * len(paraphrases)
    right_supersedes = [o for o in supersedes if o[0] == "update"]
    assert len(right_supersedes) >= 0.95 * len(supersedes)
    assert len(right_supersedes) >= 0.8 * len(updates)
