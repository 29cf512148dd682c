"""Corrections: a new value of a customer attribute supersedes the old memory, on both backends.

Each case leaves exactly one current fact of the attribute, recall returns it first and never
the old one, the old row is kept (superseded, for audit) until a purge erases it. Facts that
differ only in a number, a negation, a direction or a person are never merged.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from storage.config import MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import MemoryStore, Scope
from storage.memory.tables import memories

CORRECTIONS = [
    (
        "Please only contact me by email, never by phone",
        "Actually, phone calls are fine now, call me on 503-555-0147",
        "How should we contact the customer?",
        "preference",
    ),
    (
        "My address is 12 Oak Street, Portland 97201",
        "I moved to 48 Pine Avenue, Salem 97301",
        "Where does the customer live?",
        "fact",
    ),
    ("My T-shirt size is M", "Sorry, my T-shirt size is L", "What T-shirt size?", "fact"),
    (
        "My phone number is 503-555-0100",
        "My new phone number is 503-555-0147",
        "What is the customer's phone number?",
        "identifier",
    ),
]


@pytest.fixture
def real_store(memory_database: Database, local_embeddings: LocalOnnxEmbeddings) -> MemoryStore:
    return MemoryStore(memory_database, local_embeddings, MemoryConfig())


def rows(database: Database, scope: Scope) -> list[tuple[str, str | None]]:
    with database.transaction() as connection:
        return [
            (row.content, row.superseded_by)
            for row in connection.execute(
                select(memories.c.content, memories.c.superseded_by)
                .where(memories.c.tenant_id == scope.tenant_id)
                .order_by(memories.c.created_at)
            )
        ]


@pytest.mark.parametrize(("old", "new", "question", "content_type"), CORRECTIONS)
def test_a_correction_leaves_one_current_fact_recalled_first(
    real_store: MemoryStore, scope: Scope, old: str, new: str, question: str, content_type: str
) -> None:
    before = real_store.remember(scope, old, content_type=content_type)
    after = real_store.remember(scope, new, content_type=content_type)

    assert not after.deduped
    assert [m.id for m in after.superseded] == [before.memory.id]
    assert after.superseded[0].content == old
    assert rows(real_store.database, scope) == [(old, after.memory.id), (new, None)]
    recalled = real_store.recall(scope, question, limit=5)
    assert [hit.memory.content for hit in recalled] == [new]
    exported = real_store.export(scope.tenant_id, scope.user_id)["memories"]
    assert [(m["content"], m["state"]) for m in exported] == [(old, "superseded"), (new, "live")]


async def test_async_correction_and_going_back_to_the_old_value(
    real_store: MemoryStore, scope: Scope
) -> None:
    email_only = "Please only contact me by email, never by phone"
    phone_ok = "Actually, phone calls are fine now, call me on 503-555-0147"
    first = await real_store.aremember(scope, email_only, content_type="preference")
    second = await real_store.aremember(scope, phone_ok, content_type="preference")
    third = await real_store.aremember(scope, email_only, content_type="preference")

    assert [m.id for m in second.superseded] == [first.memory.id]
    assert [m.id for m in third.superseded] == [second.memory.id]
    assert third.memory.id != first.memory.id, "the old row stays superseded, for audit"
    recalled = await real_store.arecall(scope, "how to contact the customer", limit=5)
    assert [hit.memory.content for hit in recalled] == [email_only]


def test_additive_attributes_and_other_slots_are_not_superseded(
    real_store: MemoryStore, scope: Scope
) -> None:
    latex = real_store.remember(scope, "I'm allergic to latex")
    peanuts = real_store.remember(scope, "I'm also allergic to peanuts")
    shoe = real_store.remember(scope, "My shoe size is 42")
    shirt = real_store.remember(scope, "My T-shirt size is M")
    no_latex = real_store.remember(scope, "I am no longer allergic to latex")

    assert peanuts.superseded == shoe.superseded == shirt.superseded == ()
    assert [m.id for m in no_latex.superseded] == [latex.memory.id]
    current = {content for content, by in rows(real_store.database, scope) if by is None}
    assert current == {
        "I'm also allergic to peanuts",
        "My shoe size is 42",
        "My T-shirt size is M",
        "I am no longer allergic to latex",
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Order 1001 arrived damaged", "Order 1002 arrived damaged"),
        ("The customer wants a refund", "The customer does not want a refund"),
        ("Interest rates rise next month", "Interest rates fall next month"),
        ("John from accounting approved the refund", "Mary from accounting approved the refund"),
        ("Deliver parcels in the morning", "Deliver parcels in the evening"),
    ],
)
def test_facts_that_differ_in_one_detail_are_never_merged(
    real_store: MemoryStore, scope: Scope, first: str, second: str
) -> None:
    kept = real_store.remember(scope, first)
    result = real_store.remember(scope, second)
    assert not result.deduped
    assert result.memory.id != kept.memory.id
    assert [content for content, _ in rows(real_store.database, scope)] == [first, second]


async def test_concurrent_corrections_leave_exactly_one_current_phone(
    real_store: MemoryStore, scope: Scope
) -> None:
    numbers = [f"My phone number is 503-555-01{i:02d}" for i in range(8)]
    await asyncio.gather(*(real_store.aremember(scope, text) for text in numbers))
    current = [content for content, by in rows(real_store.database, scope) if by is None]
    assert len(current) == 1
    assert len(rows(real_store.database, scope)) == len(numbers)


def test_purge_erases_superseded_memories_too(real_store: MemoryStore, scope: Scope) -> None:
    real_store.remember(scope, "My T-shirt size is M")
    real_store.remember(scope, "My T-shirt size is L")
    counts = real_store.purge(scope.tenant_id, scope.user_id)
    assert counts["memories"] == 2
    assert rows(real_store.database, scope) == []


async def test_forget_my_phone_number_forgets_every_memory_of_it(
    real_store: MemoryStore, scope: Scope
) -> None:
    """The graph's helper decides what the request is about; the store forgets those."""
    from graphs.support.facts import extract_facts, forget_request, forgot_note

    for message in ("My phone number is 503-555-0100", "Please reply in Spanish"):
        for fact in extract_facts(message):
            await real_store.aremember(scope, fact.content, content_type=fact.content_type)
    request = forget_request("Please forget my phone number.")
    assert request is not None

    forgotten = await real_store.aforget_matching(scope, request.matches)

    assert [m.content for m in forgotten] == ["Phone number: 5035550100"]
    assert forgot_note([m.content for m in forgotten], request) == (
        "Done: I've forgotten one note about your phone number."
    )
    recalled = await real_store.arecall(scope, "what is the customer's phone number", limit=5)
    assert [hit.memory.content for hit in recalled] == ["Preference: Please reply in Spanish"]
    assert await real_store.aforget_matching(scope, request.matches) == []


def test_a_correction_never_reaches_another_customer(real_store: MemoryStore, scope: Scope) -> None:
    other = Scope(scope.tenant_id, "user-2")
    other_tenant = Scope(f"{scope.tenant_id}-b", scope.user_id)
    theirs = [
        real_store.remember(who, "My phone number is 503-555-0100").memory.id
        for who in (other, other_tenant)
    ]
    stolen = real_store.remember(scope, "My shoe size is 42", supersedes=theirs)
    assert stolen.superseded == (), "another customer's memory id supersedes nothing"
    mine = real_store.remember(scope, "My phone number is 503-555-0147")
    old = real_store.remember(scope, "My phone number is 503-555-0199")
    forged = real_store.remember(scope, "My T-shirt size is M", supersedes=[mine.memory.id])

    assert mine.superseded == ()
    assert [m.id for m in old.superseded] == [mine.memory.id]
    assert forged.superseded == (), "an id already superseded is not current any more"
    for who in (other, other_tenant):
        exported = real_store.export(who.tenant_id, who.user_id)["memories"]
        assert [m["state"] for m in exported] == ["live"]
