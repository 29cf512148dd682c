"""The kinds of memory, in one place: what each is for, how long it lives, what replaces it.

Kept outside the package so `storage.config` can read the TTLs. The schema only accepts these names (a CHECK constraint), the tools offer them as filters,
``MemoryConfig.ttl_s`` takes its defaults from here and remember reads ``supersede`` to
decide whether a new memory may replace an older one:

- ``slot``: a memory stating a customer attribute (``slots``: contact preference, phone,
  e-mail, address, name, sizes, payment, allergies, care notes, delivery instructions,
  language, subscriptions) replaces the current memories of the same slot with another value;
- ``neighbour``: also a very close memory of the same type that says the opposite (a negation
  or a direction flipped, nothing else different) is replaced, e.g. "likes the new app" by
  "does not like the new app"; these are also the only types a configured chat model is
  asked about (``tools.correction_judge``), since only they are replaced by meaning;
- neither: the memory records an event; a later one never makes it untrue.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86_400


@dataclass(frozen=True, slots=True)
class MemoryType:
    name: str
    purpose: str
    ttl_s: int | None
    by_slot: bool
    by_neighbour: bool


TYPES: tuple[MemoryType, ...] = (
    MemoryType("fact", "stable information about the customer", None, True, True),
    MemoryType("preference", "how the customer wants to be treated", None, True, True),
    MemoryType(
        "identifier", "order numbers, e-mail addresses, phone numbers", 365 * DAY, True, False
    ),
    MemoryType("issue", "a problem the customer reported", 90 * DAY, False, False),
    MemoryType("episode", "something that happened in a conversation", 30 * DAY, False, False),
    MemoryType("session", "context for the current conversation only", DAY, False, False),
)
BY_NAME = {kind.name: kind for kind in TYPES}
CONTENT_TYPES = tuple(BY_NAME)
# The types a newer memory may replace at all: by the rules, or by a caller's or a model's
# ``supersedes`` (which must not make a reported issue or a past episode "untrue").
SUPERSEDABLE = tuple(kind.name for kind in TYPES if kind.by_slot or kind.by_neighbour)


def default_ttls() -> dict[str, int | None]:
    return {kind.name: kind.ttl_s for kind in TYPES}
