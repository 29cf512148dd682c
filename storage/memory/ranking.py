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


def best(
    ids: list[str], scores: np.ndarray, limit: int, floor: float = 0.0
) -> list[tuple[str, float]]:
    """The (id, score) pairs of the ``limit`` highest scores above ``floor``, best first."""
    count = min(limit, len(ids))
    if count == 0:
        return []
    chosen = np.argpartition(-scores, count - 1)[:count]
    chosen = chosen[np.argsort(-scores[chosen], kind="stable")]
    return [
        (ids[i], float(scores[i])) for i in chosen if math.isfinite(scores[i]) and scores[i] > floor
    ]


def top_scores(
    vectors: Vectors, query: np.ndarray, now: float, half_life_s: float, limit: int
) -> list[tuple[str, float]]:
    """(id, score) best first.

    Memories with no positive relevance are not returned: an unrelated memory is noise in a
    prompt however important it is.
    """
    relevance = np.clip(vectors.matrix @ query, 0, None)
    scores = relevance * decayed_importance(
        vectors.importance, vectors.reinforced_at, now, half_life_s
    )
    return best(vectors.ids, scores, limit)


def closest(
    vectors: Vectors, vector: np.ndarray, limit: int, floor: float
) -> list[tuple[str, float]]:
    """(id, cosine) of the memories most like ``vector``, above ``floor``, closest first.

    Similarity alone, unlike recall: what a new fact may correct is the memory saying the most
    similar thing, however old or unimportant it has become.
    """
    return best(vectors.ids, vectors.matrix @ vector, limit, floor)
