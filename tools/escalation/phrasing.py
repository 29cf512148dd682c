"""How customers ask for a person, and what is only small talk: the detector's grammar.

A list of fixed phrases missed most real requests ("can i get a real human on the phone",
"pls have someone ring me back", "I need a supervisor"), and single words fired on
"my travel agent" or "another person can collect it". So a request for a person is a
*request frame* followed, within a few filler words, by a *person noun*:

- frames: talk/speak/chat to|with, get me, connect|transfer|put|pass me (through) to,
  I want|need|would like|demand, can|could|may I have|get, is there, let me talk;
- person nouns: human, person, someone, agent, representative, operator, supervisor,
  manager, staff, customer service, ... (a bare "agent" or "person" is not enough);
- call-backs: call|ring|phone me (back) when asked for, "call back", "callback";
- a message that is nothing but a person noun ("agent", "human please").

Typos are folded before matching: a word of five letters or more that is close to a key
word (difflib ratio >= 0.8, e.g. "humna", "reprsentative", "supervsor", "manger") is read as
that word. Short words are left alone ("all" must never become "call").

Text inside quotation marks is what someone else wrote (a review, an advert, a statistic),
so it never counts as the customer's own request or anger.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

_NAMED = (
    r"(?:human(?:\s+being)?s?|person|agents?|representatives?|reps?|operators?|"
    r"supervisors?|managers?|staff(?:\s+member)?|employees?|advis[oe]rs?|colleagues?|"
    r"team\s+members?|customer\s+(?:service|services|support|care)|support\s+team|"
    r"service\s+desk|the\s+boss|your\s+boss)"
)
_ANYONE = r"(?:someone|somebody|some\s+one|anyone|anybody)"
_PERSON = rf"(?:{_NAMED}|{_ANYONE})"
_ANYONE_TO_HELP = (
    rf"{_ANYONE}\s+(?:(?:real|human|from\s+\w+|please|now|$)|(?:to|who|that)\s+(?:can\s+|"
    r"could\s+|will\s+|would\s+|actually\s+|really\s+)?(?:help|talk|speak|call|ring|phone|"
    r"contact|look|sort|deal|fix|explain|understand|know|knows|assist|handle|listen|review))"
)
_FILLER = (
    r"(?:a|an|the|your|some|one|of|real|live|actual|proper|genuine|human|another|other|"
    r"different|senior|qualified|member|members|customer|service|support|care|billing|"
    r"team|staff|competent|living|breathing|flesh|and|blood|on|phone|the\s+phone)"
)
_GAP = rf"(?:{_FILLER}\s+){{0,4}}"
_PERSON_AFTER = rf"{_GAP}{_PERSON}(?![\w'])"
_NAMED_AFTER = rf"(?:{_GAP}{_NAMED}(?![\w'])|{_ANYONE_TO_HELP})"
_VERB = r"(?:talk(?:ing)?|speak(?:ing)?|chat(?:ting)?|deal(?:ing)?|communicate)"
_FRAMES = [
    rf"{_VERB}\s+(?:to|with)\s+{_PERSON_AFTER}",
    rf"(?:get|fetch|bring)\s+(?:me\s+)?{_NAMED_AFTER}",
    rf"(?:find|give)\s+me\s+{_NAMED_AFTER}",
    rf"(?:connect|transfer|put|pass|hand|switch|forward|redirect|route)\s+me\s+"
    rf"(?:(?:through|over|on)\s+)?(?:to|with)\s+{_PERSON_AFTER}",
    r"(?:connect|transfer|put|pass|hand|switch|forward|redirect|route)\s+me\s+"
    r"(?:through|thru|over|on)\b",
    rf"get\s+(?:me\s+)?(?:through|thru)\s+to\s+{_PERSON_AFTER}",
    r"transfer\s+me\s*$",
    rf"(?:want|need|(?:would|'d|i\s+d)\s+like|demand|request|prefer|require)\s+"
    rf"(?:to\s+{_VERB}\s+(?:to|with)\s+)?{_NAMED_AFTER}",
    rf"(?:can|could|may|might)\s+i\s+(?:please\s+)?(?:have|get|see|reach|contact|call)\s+"
    rf"{_PERSON_AFTER}",
    rf"is\s+there\s+(?:not\s+)?(?:even\s+)?{_PERSON_AFTER}",
    rf"(?:let|allow)\s+me\s+{_VERB}\s+(?:to|with)\s+{_PERSON_AFTER}",
    r"escalate\s+(?:this|it|me|to|please|(?:my|the)\s+(?:case|complaint|issue|problem|"
    r"ticket|matter|claim|query))",
    r"(?:please|pls|plz)\s+escalate",
    r"(?:real|live|actual|genuine)\s+(?:human|person|agent|people)",
    r"human\s+(?:agent|support|help|being|assistance|rep|representative)",
    r"(?:stop|no\s+more)\s+(?:the\s+)?(?:bot|robot|machine|chatbot|ai)\b",
]
_CALLBACK = [
    r"call\s+me\s+back",
    r"(?:ring|phone|telephone)\s+me(?:\s+back)?",
    r"call\s*back",
    r"give\s+me\s+a\s+(?:call|ring|phone\s+call)",
    r"(?:can|could|would|will)\s+(?:you|one\s+of\s+you)\s+(?:please\s+)?call\s+me",
    r"(?:pls|please|plz)\s+call\s+me",
    rf"{_PERSON_AFTER}\s+(?:from\s+(?:\w+\s+){{1,2}})?(?:to\s+|should\s+|must\s+|needs\s+to\s+|"
    r"please\s+)?(?:call|ring|phone|contact|email)\s+me",
    r"(?:want|need|like|request|arrange|book|schedule)\s+(?:a\s+)?(?:phone\s+)?call\b",
    r"^\s*call\s+me\b",
]
_ALONE = re.compile(
    rf"^(?:(?:a|an|the|i\s+want|i\s+need|need|want|get|give\s+me|real|live|human|please|pls|"
    rf"plz|now|just|only|hello|hi|ok)\s+)*{_NAMED}(?:\s+(?:please|pls|plz|now|asap|only|"
    rf"then|thanks|thank\s+you))*$"
)
REQUEST = re.compile(
    r"(?<![\w'])(?:" + "|".join(f"(?:{f})" for f in [*_FRAMES, *_CALLBACK]) + r")",
)
_KEY_WORDS = (
    "human",
    "person",
    "people",
    "someone",
    "somebody",
    "agent",
    "representative",
    "operator",
    "supervisor",
    "manager",
    "employee",
    "speak",
    "transfer",
    "connect",
    "escalate",
    "callback",
    "customer",
    "service",
    "support",
    "advisor",
    "please",
    "actual",
    "genuine",
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<![\w])'[^']{4,}'(?![\w])|‘[^’]*’")
_SMALL_TALK_WORDS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "heya",
        "yo",
        "morning",
        "afternoon",
        "evening",
        "good",
        "day",
        "there",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "cheers",
        "ok",
        "okay",
        "k",
        "great",
        "perfect",
        "cool",
        "nice",
        "awesome",
        "brilliant",
        "lovely",
        "fine",
        "sure",
        "bye",
        "goodbye",
        "see",
        "ya",
        "later",
        "have",
        "a",
        "nice",
        "the",
        "lot",
        "so",
        "much",
        "very",
        "many",
        "again",
        "appreciate",
        "it",
        "that's",
        "that",
        "all",
        "for",
        "now",
        "got",
        "thats",
        "helpful",
        "was",
        "sounds",
        "alright",
        "right",
        "yes",
        "yeah",
        "yep",
        "understood",
        "noted",
        "excellent",
        "wonderful",
        "fantastic",
        "super",
        "amazing",
        "much",
        "bot",
        "too",
        "😀",
        "👍",
        "🙏",
    ]
)


@lru_cache(maxsize=4096)
def _fold(word: str) -> str:
    """The key word a long word is a typo of, or the word itself."""
    if len(word) < 5 or word in _KEY_WORDS:
        return word
    close = difflib.get_close_matches(word, _KEY_WORDS, n=1, cutoff=0.8)
    return close[0] if close else word


def fold_typos(text: str) -> str:
    """``text`` (already normalised: lower case, single spaces) with key-word typos fixed."""
    return " ".join(_fold(word) for word in text.split())


def without_quotes(message: str) -> str:
    """``message`` with quoted passages removed (someone else's words)."""
    return _QUOTED.sub(" ", message)


def find_request(text: str) -> re.Match[str] | None:
    """The first request for a person in normalised, typo-folded ``text`` (or None)."""
    found = REQUEST.search(text)
    if found is not None:
        return found
    return _ALONE.match(text.strip())


def is_small_talk(text: str) -> bool:
    """A greeting, a thank-you or an acknowledgement, with no question in it.

    Such a turn is never a failure to answer and never escalates on its own.
    """
    words = re.findall(r"[\w']+|[^\w\s]", text.casefold())
    return (
        bool(words)
        and "?" not in text
        and all(word in _SMALL_TALK_WORDS or not word.isalnum() for word in words)
    )
