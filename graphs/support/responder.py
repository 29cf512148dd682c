"""The deterministic offline responder: answers without a chat model, and is never wrong.

It is extractive on purpose: everything it says about the shop is copied from a
knowledge-base article, and it names the article. Being short is allowed; being wrong is
not, so:
- a passage is used only when it is relevant twice over: its score clears the threshold
  *and* it shares a content word with the question (an article close in embedding space
  but about something else, such as opening hours for "when will the replacement arrive",
  is left out). A passage below the threshold is still used when a question word is in its
  title ("Can I return the boots?" and "Return policy");
- an article is quoted whole when it is short enough, otherwise its most relevant blocks
  whole (a list stays with its introduction and every item): never one item of a list of
  five. When even the best block is too long, the answer says which article to read;
- recalled memories are mentioned only when they share a word with the question;
- an order that cannot be found is said plainly, and nothing about it is "noted";
- a greeting or a thank-you gets a greeting back and counts as answered.
When no passage is relevant it says it does not know and offers a person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphs.support import prompts
from tools.escalation import is_small_talk

_WORD = re.compile(r"[a-z0-9$#]+(?:'[a-z]+)?")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"\*\*|__|`")
_THANKS = re.compile(r"\b(?:thanks|thank|thx|ty|cheers|bye|goodbye|great|perfect|ok|okay)\b")
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
_SECOND_PASSAGE_MARGIN = 0.05
_ORDER_MARGIN = 0.2
_TITLE_MATCH_FLOOR = 0.5
"""A passage under the threshold is still used when a question word is in its title and
its score is at least this share of the threshold (the unworn-boots return scored 0.21)."""
MAX_SECTION_CHARS = 1200
"""Longest text quoted from one article; longer articles are quoted by whole blocks."""


@dataclass(frozen=True)
class Answer:
    """``answered``: the customer got an answer (or a plain "not found"); ``small_talk``: the
    message was a greeting or a thank-you, which is neither a success nor a failure, so a
    count of unanswered questions should leave it out."""

    text: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    answered: bool = True
    small_talk: bool = False


def _stem(word: str) -> str:
    """Plural and verb ``-s`` folded so "cards" matches "card"; good enough for overlap."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _terms(text: str) -> set[str]:
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def blocks(passage: str) -> list[str]:
    """The article's paragraphs, markdown headings dropped and emphasis removed, with a list
    kept in one block together with the paragraph that introduces it."""
    result: list[str] = []
    for raw in re.split(r"\n\s*\n", passage):
        lines = [line.rstrip() for line in raw.strip().splitlines() if line.strip()]
        lines = [_EMPHASIS.sub("", line) for line in lines if not line.lstrip().startswith("#")]
        if not lines:
            continue
        text = "\n".join(lines)
        is_list = all(_LIST_ITEM.match(line) for line in lines)
        if is_list and result and (result[-1].endswith(":") or _LIST_ITEM.search(result[-1])):
            result[-1] = f"{result[-1]}\n{text}"
        else:
            result.append(text)
    return result


def section(question: str, passage: str, limit: int = MAX_SECTION_CHARS) -> str | None:
    """What to quote from ``passage``: all of it when it fits in ``limit``, else the blocks
    sharing most words with the question, whole and in order; None when even the best block
    does not fit (the caller then points to the article)."""
    parts = blocks(passage)
    whole = "\n\n".join(parts)
    if len(whole) <= limit:
        return whole or None
    wanted = _terms(question)
    ranked = sorted(range(len(parts)), key=lambda i: (-len(wanted & _terms(parts[i])), i))
    keep: list[int] = []
    size = 0
    for index in ranked:
        if size + len(parts[index]) > limit or not wanted & _terms(parts[index]):
            continue
        keep.append(index)
        size += len(parts[index]) + 2
    if not keep:
        return None
    return "\n\n".join(parts[i] for i in sorted(keep))


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


def _score(passage: Mapping[str, Any]) -> float:
    return float(passage.get("score", 0.0))


def relevant(question: str, passage: Mapping[str, Any], min_score: float) -> bool:
    """Close enough by score and about the same thing by words (see the module docstring)."""
    wanted = _terms(question)
    if not wanted & _terms(str(passage.get("content", ""))):
        return False
    if _score(passage) >= min_score:
        return True
    in_title = wanted & _terms(str(passage.get("title") or ""))
    return bool(in_title) and _score(passage) >= min_score * _TITLE_MATCH_FLOOR


def _pick_passages(
    question: str, passages: Sequence[Mapping[str, Any]], min_score: float
) -> list[Mapping[str, Any]]:
    candidates = [p for p in passages if relevant(question, p, min_score)]
    if not candidates:
        return []
    best = max(candidates, key=_score)
    chosen = [best]
    for passage in candidates:
        if (
            passage.get("source") != best.get("source")
            and _score(best) - _score(passage) <= _SECOND_PASSAGE_MARGIN
        ):
            chosen.append(passage)
            break
    return chosen


def relevant_memories(
    question: str, memories: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The memories that share a content word with the question."""
    wanted = _terms(question)
    return [m for m in memories if wanted & _terms(str(m.get("content", "")))]


def _bare_id(value: str) -> str:
    return value.upper().lstrip("#")


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

    When the message names an order, the order record (or its absence) is the answer and an
    article is added only when it clears the threshold by a margin: "where is my order" is
    close to many articles.
    ``stated`` are the facts the customer just told us; a message of statements only is
    acknowledged rather than answered with "I don't know" (never a missing order number).
    ``memories`` are all that recall found; only those that bear on the question are used.
    """
    if is_small_talk(question) and order is None and not order_missing:
        closing = _THANKS.search(question.casefold()) is not None
        reply = prompts.SMALL_TALK_THANKS if closing else prompts.SMALL_TALK_HELLO
        return Answer(reply, small_talk=True)
    parts: list[str] = []
    sources: list[dict[str, Any]] = []
    if order is not None:
        parts.append(_describe_order(order))
    elif order_missing:
        parts.append(prompts.ORDER_NOT_FOUND.format(order_id=order_missing))
    about_order = order is not None or bool(order_missing)
    threshold = min_score + (_ORDER_MARGIN if about_order else 0.0)
    for passage in _pick_passages(question, passages, threshold):
        number = len(sources) + 1
        title = passage.get("title") or passage.get("source")
        quoted = section(question, str(passage.get("content", "")))
        parts.append(
            f"{quoted} [{number}]" if quoted else prompts.SEE_ARTICLE.format(title=title, n=number)
        )
        sources.append(
            {
                "n": number,
                "title": title,
                "source": passage.get("source"),
                "score": round(_score(passage), 3),
            }
        )
    bearing = relevant_memories(question, memories)
    if bearing:
        noted = "; ".join(str(m.get("content", "")).rstrip(".") for m in bearing)
        parts.append(f"From our earlier conversations I have noted: {noted}.")
    answered = bool(sources) or order is not None or bool(order_missing)
    if order_missing:
        stated = [f for f in stated if _bare_id(order_missing) not in _bare_id(f)]
    if not answered and stated:
        noted = "; ".join(fact.rstrip(".") for fact in stated)
        parts.append(f"Thank you, I have noted that ({noted}).")
        answered = True
    elif not answered:
        parts.append(
            prompts.KB_UNREACHABLE if "knowledge_base" in unavailable else prompts.DONT_KNOW
        )
    if sources:
        listed = "; ".join(f"[{s['n']}] {s['title']} ({s['source']})" for s in sources)
        parts.append(f"Sources: {listed}")
    return Answer(text="\n\n".join(parts), sources=sources, answered=answered)
