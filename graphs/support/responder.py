"""The deterministic offline responder: answers without a chat model.

It is extractive on purpose: every sentence it says about the shop comes verbatim from a
knowledge-base passage, and it names the article. From the best passage (and a second
one when it is nearly as relevant and from another article) it keeps the sentences that
share the most words with the question, in their original order. Order facts come from the
CRM record, and what the customer told us before comes from recalled memories. When no
passage clears the relevance threshold it says it does not know and offers a person,
rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[a-z0-9$#]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?:])\s+(?=[A-Z*])|\n+")
_MARKDOWN = re.compile(r"^\s*(#+\s*|[-*]\s+|\d+\.\s+)|\*\*|__|`")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "yours",
        "am",
        "been",
        "get",
        "got",
        "has",
        "had",
        "into",
        "just",
        "may",
        "might",
        "must",
        "not",
        "no",
        "please",
        "shall",
        "should",
        "than",
        "too",
        "very",
        "would",
        "about",
        "any",
        "all",
        "also",
    ]
)
_SENTENCES_PER_PASSAGE = 3
_SECOND_PASSAGE_MARGIN = 0.05
_ORDER_MARGIN = 0.2


@dataclass(frozen=True)
class Answer:
    text: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    answered: bool = True


def _stem(word: str) -> str:
    """Plural and verb ``-s`` folded so "cards" matches "card"; good enough for overlap."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _terms(text: str) -> set[str]:
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def _clean(sentence: str) -> str:
    return _MARKDOWN.sub("", sentence).strip()


def best_sentences(question: str, passage: str, limit: int = _SENTENCES_PER_PASSAGE) -> list[str]:
    """The ``limit`` sentences of ``passage`` sharing most words with ``question``, in order.

    Markdown headings are left out: the article title is cited separately.
    """
    parts = [part for part in _SENTENCE.split(passage) if not part.lstrip().startswith("#")]
    sentences = [_clean(part) for part in parts]
    sentences = [s for s in sentences if len(s) > 3 and not s.endswith("?")]
    if not sentences:
        return []
    wanted = _terms(question)
    ranked = sorted(
        range(len(sentences)),
        key=lambda i: (-len(wanted & _terms(sentences[i])), i),
    )
    keep = sorted(ranked[:limit])
    return [sentences[i] for i in keep]


def _describe_order(order: Mapping[str, Any]) -> str:
    items = ", ".join(str(item.get("name", "item")) for item in order.get("items") or [])
    line = f"Order {order.get('order_id', '')} is **{order.get('status', 'unknown')}**"
    line += f" ({items})." if items else "."
    tracking = [
        tracking_id
        for shipment in order.get("shipments") or []
        for tracking_id in shipment.get("tracking_ids") or []
    ]
    if tracking:
        line += f" Tracking number{'s' if len(tracking) > 1 else ''}: {', '.join(tracking)}."
    return line


def _pick_passages(
    passages: Sequence[Mapping[str, Any]], min_score: float
) -> list[Mapping[str, Any]]:
    relevant = [p for p in passages if float(p.get("score", 0.0)) >= min_score]
    if not relevant:
        return []
    best = max(relevant, key=lambda p: float(p.get("score", 0.0)))
    chosen = [best]
    for passage in relevant:
        if (
            passage.get("source") != best.get("source")
            and float(best.get("score", 0.0)) - float(passage.get("score", 0.0))
            <= _SECOND_PASSAGE_MARGIN
        ):
            chosen.append(passage)
            break
    return chosen


def compose_answer(
    question: str,
    passages: Sequence[Mapping[str, Any]],
    *,
    memories: Sequence[Mapping[str, Any]] = (),
    order: Mapping[str, Any] | None = None,
    order_missing: str | None = None,
    unavailable: Sequence[str] = (),
    stated: Sequence[str] = (),
    min_score: float = 0.4,
) -> Answer:
    """Build the reply for one turn from what recall and retrieve found.

    With an order found, the order record is the answer and an article is added only when
    it clears the threshold by a margin: "where is my order" is close to many articles.
    ``stated`` are the facts the customer just told us; a message of statements only is
    acknowledged rather than answered with "I don't know".
    """
    parts: list[str] = []
    sources: list[dict[str, Any]] = []
    if order is not None:
        parts.append(_describe_order(order))
    elif order_missing:
        parts.append(
            f"I could not find order {order_missing} on your account; please check the number."
        )
    chosen = _pick_passages(passages, min_score + (_ORDER_MARGIN if order is not None else 0.0))
    for number, passage in enumerate(chosen, start=1):
        sentences = best_sentences(question, str(passage.get("content", "")))
        if sentences:
            parts.append(" ".join(sentences) + f" [{number}]")
            sources.append(
                {
                    "n": number,
                    "title": passage.get("title") or passage.get("source"),
                    "source": passage.get("source"),
                    "score": round(float(passage.get("score", 0.0)), 3),
                }
            )
    if memories:
        noted = "; ".join(str(m.get("content", "")).rstrip(".") for m in memories)
        parts.append(f"From our earlier conversations I have noted: {noted}.")
    answered = bool(sources) or order is not None
    if not answered and stated:
        noted = "; ".join(fact.rstrip(".") for fact in stated)
        parts.append(f"Thank you, I have noted that ({noted}).")
        answered = True
    elif not answered:
        if "knowledge_base" in unavailable:
            parts.append(
                "I cannot reach our help centre right now, so I cannot look this up. "
                "Please try again in a few minutes, or ask me to connect you with a person."
            )
        else:
            parts.append(
                "I'm sorry, I don't know the answer to that and I could not find it in our "
                "help centre. I can connect you with a person if you'd like."
            )
    if sources:
        listed = "; ".join(f"[{s['n']}] {s['title']} ({s['source']})" for s in sources)
        parts.append(f"Sources: {listed}")
    return Answer(text="\n\n".join(parts), sources=sources, answered=answered)
