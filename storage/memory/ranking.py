"""Recall ranking: semantic relevance x importance decayed by time since last reinforcement.

Vectors come back from the database as float16 blobs and are scored in float32 in one numpy
product; with the rows of one (tenant, user) fetched through an index this is the same code
on SQLite and Postgres and needs no vector extension.
"""

from __future__ import annotations

import math

import numpy as np

from storage.memory.queries import Vectors


def decayed_importance(
    importance: np.ndarray, reinforced_at: np.ndarray, now: float, half_life_s: float
) -> np.ndarray:
    age = np.clip(now - reinforced_at, 0, None)
    return importance * np.exp2(-age / half_life_s)


def top_scores(
    vectors: Vectors, query: np.ndarray, now: float, half_life_s: float, limit: int
) -> list[tuple[str, float]]:
    """(id, score) best first.

    Memories with no positive relevance are not returned: an unrelated memory is noise in a
    prompt however important it is.
    """
    if not vectors.ids:
        return []
    relevance = np.clip(vectors.matrix @ query, 0, None)
    scores = relevance * decayed_importance(
        vectors.importance, vectors.reinforced_at, now, half_life_s
    )
    count = min(limit, len(vectors.ids))
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [
        (vectors.ids[i], float(scores[i]))
        for i in best
        if math.isfinite(scores[i]) and scores[i] > 0
    ]
