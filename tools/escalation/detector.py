"""Escalation signals from a user's message, the conversation so far and breaker states.

Pattern matching on normalised text, not a model: it is cheap enough to run every turn,
explainable (each signal names the words that fired), and configurable per deployment.
Requests for a person use the grammar of ``phrasing`` (request frame + person noun, typos
folded) plus any extra configured phrases. Word lists match whole words only ("sue you"
never fires on "issue you"), a trailing ``*`` matches word prefixes ("fuck*"), and a request
for a human preceded by a negation ("I don't need a real person") is ignored.

What is *not* a signal, because customers write it without wanting a person: capitals or
exclamation marks alone, swearing in praise ("fucking brilliant service, thanks"), words
inside quotation marks (a review or a statistic the customer quotes), and small talk ("hello",
"thanks"), which never counts as a repeated failure either. Safety words are matched on
the whole message, quotes included: an injury is never missed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

from tools.config import EscalationConfig, Priority
from tools.escalation.phrasing import (
    REQUEST,
    find_request,
    fold_typos,
    is_small_talk,
    without_quotes,
)

SignalKind = Literal[
    "human_request",
    "anger",
    "abuse",
    "legal",
    "safety",
    "repeated_failure",
    "dependency_unavailable",
]
_PRIORITY: dict[SignalKind, Priority] = {
    "safety": "urgent",
    "legal": "high",
    "abuse": "high",
    "anger": "high",
    "dependency_unavailable": "high",
    "repeated_failure": "normal",
    "human_request": "normal",
}
_NEGATION = re.compile(r"(?<![\w'])(?:don't|dont|do not|no need|not|never|without)(?![\w'])")
_HISTORY_WINDOW = 20
_PRAISE = re.compile(
    r"(?<![\w'])(?:love|loved|loving|amazing|awesome|great|brilliant|excellent|fantastic|"
    r"perfect|best|thanks|thank|good|nice|beautiful|incredible|wonderful|happy|impressed|"
    r"quick|fast|superb|cool|legend|legends|lifesaver|genius)(?![\w'])"
)
_COMPLAINT = re.compile(
    r"(?<![\w'])(?:not|never|no|still|where|why|late|broken|missing|wrong|refund|charged|"
    r"cancel|worst|terrible|awful|hate|problem|issue|damaged|waiting|waited|again|useless|"
    r"can't|cannot|won't|didn't|doesn't|isn't|haven't)(?![\w'])"
)


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    reason: str
    matched: str | None = None
    priority: Priority = "normal"
    borderline: bool = False
    """Matched only after typo folding, as a bare noun ("agent?") or as swearing: a chat
    model, when configured, may overrule it (``confirm.aconfirm_signals``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise(text: str) -> str:
    text = text.casefold().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(re.sub(r"[^\w'\s]", " ", text).split())


def _pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    parts = []
    for phrase in phrases:
        words = normalise(phrase.rstrip("*")).split()
        if not words:
            continue
        body = r"\s+".join(re.escape(w) for w in words)
        tail = r"\w*" if phrase.endswith("*") else ""
        parts.append(f"{body}{tail}")
    if not parts:
        return None
    return re.compile(
        r"(?<![\w'])(?:" + "|".join(sorted(parts, key=len, reverse=True)) + r")(?![\w'])"
    )


def _negated(text: str, start: int) -> bool:
    """A negation among the three words before the phrase ("I don't need a real person")."""
    return _NEGATION.search(" ".join(text[:start].split()[-3:])) is not None


def _role_and_text(item: Any) -> tuple[str, str, bool]:
    """(role, text, is_error) of a history item: a LangChain message, a dict or a string."""
    if isinstance(item, str):
        return "user", item, False
    if isinstance(item, Mapping):
        role = str(item.get("role") or item.get("type") or "user")
        return role, str(item.get("content") or ""), item.get("status") == "error"
    role = str(getattr(item, "type", "user"))
    content = getattr(item, "content", "")
    text = (
        content
        if isinstance(content, str)
        else " ".join(
            str(block.get("text", "")) if isinstance(block, Mapping) else str(block)
            for block in content
        )
    )
    return role, text, getattr(item, "status", None) == "error"


class EscalationDetector:
    """Compiled phrase lists of one ``EscalationConfig``."""

    def __init__(self, config: EscalationConfig) -> None:
        self.config = config
        self._human = _pattern(config.human_request_phrases)
        self._profanity = _pattern(config.profanity_words)
        self._unresolved = _pattern(config.unresolved_phrases)
        self._lists: list[tuple[SignalKind, re.Pattern[str] | None, str]] = [
            ("safety", _pattern(config.safety_words), "mentions a safety risk"),
            ("legal", _pattern(config.legal_words), "mentions legal action"),
            ("abuse", _pattern(config.abuse_words), "is abusive"),
            ("anger", _pattern(config.anger_words), "is angry"),
        ]

    def detect(
        self,
        message: str,
        history: Sequence[Any] = (),
        *,
        breaker_states: Mapping[str, str] | None = None,
        open_breakers: Iterable[str] = (),
        failed_turns: int = 0,
        failure_limit: int | None = None,
    ) -> list[Signal]:
        """Signals for this turn, most urgent first; empty for an ordinary message.

        ``history`` holds earlier messages (LangChain messages, ``{"role", "content"}``
        dicts or strings); ``failed_turns`` adds failures the caller counted itself (turns
        left unanswered, failed tool calls). ``breaker_states`` (dependency -> state) is
        checked against the configured critical dependencies; ``open_breakers`` names
        dependencies the caller already found open.
        """
        text = normalise(message)
        unfolded = normalise(without_quotes(message))
        own = fold_typos(unfolded)
        signals: list[Signal] = []
        human = self._human_request(own, unfolded)
        if human is not None:
            signals.append(human)
        for kind, pattern, what in self._lists:
            found = pattern.search(text if kind == "safety" else own) if pattern else None
            if found is not None:
                signals.append(
                    Signal(
                        kind,
                        f"the customer {what} ({found.group(0)!r})",
                        found.group(0),
                        _PRIORITY[kind],
                    )
                )
        swearing = self._profanity.search(own) if self._profanity is not None else None
        if (
            swearing is not None
            and not _praise(own)
            and not any(s.kind == "abuse" for s in signals)
        ):
            signals.append(
                Signal(
                    "abuse",
                    f"the customer is swearing in a complaint ({swearing.group(0)!r})",
                    swearing.group(0),
                    _PRIORITY["abuse"],
                    borderline=True,
                )
            )
        limit = self.config.repeated_failure_threshold if failure_limit is None else failure_limit
        failure = (
            None
            if is_small_talk(message)
            else self._repeated_failure(own, history, failed_turns, limit)
        )
        if failure is not None:
            signals.append(failure)
        signals.extend(self._outages(breaker_states or {}, open_breakers))
        order = list(_PRIORITY)
        return sorted(signals, key=lambda s: order.index(s.kind))

    def _human_request(self, text: str, unfolded: str) -> Signal | None:
        """The customer's own request for a person: the grammar, then configured phrases.

        ``text`` has typos folded, ``unfolded`` not: a request found only in ``text``, or a
        message that is a bare person noun, is marked borderline.
        """
        candidates = [(find_request(text), True)]
        if self._human is not None:
            candidates.extend((found, False) for found in self._human.finditer(text))
        for found, grammar in candidates:
            if found is None or _negated(text, found.start()):
                continue
            as_written = find_request(unfolded) if grammar else found
            borderline = as_written is None or as_written.re is not REQUEST
            return Signal(
                "human_request",
                f"the customer asked for a human ({found.group(0).strip()!r})",
                found.group(0).strip(),
                _PRIORITY["human_request"],
                borderline=borderline,
            )
        return None

    def _repeated_failure(
        self, text: str, history: Sequence[Any], failed_turns: int, limit: int
    ) -> Signal | None:
        unresolved = 1 if self._unresolved is not None and self._unresolved.search(text) else 0
        failures = failed_turns
        for item in list(history)[-_HISTORY_WINDOW:]:
            role, content, is_error = _role_and_text(item)
            if is_error:
                failures += 1
            elif role in ("user", "human") and self._unresolved is not None:
                unresolved += 1 if self._unresolved.search(normalise(content)) else 0
        if unresolved + failures < max(limit, 1):
            return None
        return Signal(
            "repeated_failure",
            f"the problem is still unresolved after {unresolved} complaint(s) and "
            f"{failures} failed attempt(s)",
            None,
            _PRIORITY["repeated_failure"],
        )

    def _outages(
        self, breaker_states: Mapping[str, str], open_breakers: Iterable[str]
    ) -> list[Signal]:
        critical = [d for d in self.config.critical_dependencies if breaker_states.get(d) == "open"]
        unavailable = dict.fromkeys([*critical, *open_breakers])
        return [
            Signal(
                "dependency_unavailable",
                f"the {dependency} service is unavailable (circuit breaker open)",
                dependency,
                _PRIORITY["dependency_unavailable"],
            )
            for dependency in unavailable
        ]


def _praise(text: str) -> bool:
    """Swearing in a happy message ("fucking brilliant, thanks") is not abuse."""
    return _PRAISE.search(text) is not None and _COMPLAINT.search(text) is None


@lru_cache(maxsize=8)
def _detector(config_json: str) -> EscalationDetector:
    return EscalationDetector(EscalationConfig.model_validate_json(config_json))


def detector_for(config: EscalationConfig | None) -> EscalationDetector:
    """A compiled detector per distinct configuration, so per-turn calls compile nothing."""
    return _detector((config or EscalationConfig()).model_dump_json())


def detect_escalation(
    message: str,
    history: Sequence[Any] = (),
    *,
    breaker_states: Mapping[str, str] | None = None,
    open_breakers: Iterable[str] = (),
    failed_turns: int = 0,
    failure_limit: int | None = None,
    config: EscalationConfig | None = None,
) -> list[Signal]:
    """Escalation signals for ``message`` (see ``EscalationDetector.detect``)."""
    return detector_for(config).detect(
        message,
        history,
        breaker_states=breaker_states,
        open_breakers=open_breakers,
        failed_turns=failed_turns,
        failure_limit=failure_limit,
    )
