"""The customer's own words through the graph: corrections supersede, notes are kept.

Runs the real graph (offline responder, embedded storage): what a customer would notice is
the reply and the fact the next turn recalls, so that is what is asserted.
"""

from __future__ import annotations

from typing import Any

from agent.services import Services

from .conftest import turn


async def _current(services: Services, user: str) -> list[str]:
    exported = await services.memory.aexport(services.settings.tenant_id, user)
    return [m["content"] for m in exported["memories"] if m["state"] == "live"]


async def test_a_contact_preference_reversal_leaves_only_the_new_preference(
    graph: Any, services: Services, user: str
) -> None:
    await turn(graph, "Please only contact me by email, never by phone.", user=user)
    changed = await turn(
        graph, "Actually, phone calls are fine now, call me on 503-555-0147", user=user
    )
    later = await turn(graph, "How will you contact me?", user=user)

    reply = changed["messages"][-1].text
    assert "updated" in reply
    assert "call me on 503-555-0147" in reply
    assert [len(f["superseded"]) for f in changed["remembered"]] == [1, 0]

    recalled = [m["content"] for m in later["memories"]]
    assert any("phone calls are fine now" in text for text in recalled)
    assert not any("never by phone" in text for text in recalled)
    current = await _current(services, user)
    assert not any("never by phone" in text for text in current)
    assert "Phone number: 5035550147" in current


async def test_please_remember_stores_the_fact_even_without_an_article(
    graph: Any, services: Services, user: str
) -> None:
    await turn(graph, "Please remember that my T-shirt size is M", user=user)
    await turn(graph, "I'm allergic to latex, please note that.", user=user)
    await turn(graph, "Sorry, my T-shirt size is L", user=user)

    current = await _current(services, user)
    assert "I'm allergic to latex" in current
    assert "Sorry, my T-shirt size is L" in current
    assert "My T-shirt size is M" not in current


async def test_forget_my_phone_number_forgets_it_and_says_so(
    graph: Any, services: Services, user: str
) -> None:
    await turn(graph, "My phone number is 503-555-0100. Please reply in Spanish.", user=user)
    assert "Phone number: 5035550100" in await _current(services, user)

    asked = await turn(graph, "Please forget my phone number.", user=user)

    assert asked["messages"][-1].text == "Done: I've forgotten one note about your phone number."
    assert asked["remembered"] == []
    assert "5035550100" not in asked["messages"][-1].text
    assert await _current(services, user) == ["Preference: Please reply in Spanish."]
    again = await turn(graph, "Please forget my phone number.", user=user)
    assert "nothing to forget" in again["messages"][-1].text
