"""The README's example (``graphs/middleware_agent.py``): an ordinary ``create_agent`` with
the pack's tools and middleware, run offline over real services with a scripted model."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langchain.agents.middleware.human_in_the_loop import HITLRequest
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt.interrupt import HumanInterrupt
from langgraph.types import Command
from pydantic import TypeAdapter

from agent.services import Services
from graphs.middleware_agent import build_agent
from storage.memory import Scope

from .conftest import call, scripted

ESCALATE = {"reason": "human_request", "summary": "The customer wants to talk to a person."}


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


async def _memories(services: Services, tenant: str, user: str) -> list[str]:
    recalled = await services.memory.arecall(Scope(tenant, user), "contact email", limit=20)
    return [item.memory.content for item in recalled]


async def test_a_fact_stated_in_one_thread_is_recalled_in_the_next(
    services: Services, user: str
) -> None:
    model = scripted(AIMessage("Noted."), AIMessage("Here is how returns work."))
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    context = {"user_id": user}
    await agent.ainvoke(
        {"messages": [("user", "Please never call me, I prefer to be contacted by email.")]},
        _config("first"),
        context=context,
    )
    await agent.ainvoke(
        {"messages": [("user", "Can you contact me by email instead of calling me?")]},
        _config("second"),
        context=context,
    )
    first_prompt, second_prompt = (seen[0] for seen in model.seen)
    assert isinstance(second_prompt, SystemMessage)
    assert "I prefer to be contacted by email" in second_prompt.text
    assert "I prefer to be contacted by email" not in first_prompt.text
    # The second thread's messages never contain the memory: it is context, not conversation.
    assert all("contacted by email" not in m.text for m in model.seen[1][1:])


async def test_another_customer_never_sees_the_memory(services: Services, user: str) -> None:
    model = scripted(AIMessage("Noted."), AIMessage("Sure."))
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    await agent.ainvoke(
        {"messages": [("user", "I prefer to be contacted by email only.")]},
        _config("mine"),
        context={"user_id": user},
    )
    await agent.ainvoke(
        {"messages": [("user", "How will you contact me by email?")]},
        _config("theirs"),
        context={"user_id": f"{user}-other"},
    )
    assert "contacted by email" not in model.seen[1][0].text


async def test_pii_middleware_redacts_before_remember(services: Services, user: str) -> None:
    model = scripted(AIMessage("Thanks, noted."))
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    await agent.ainvoke(
        {"messages": [("user", "My package arrived damaged. Email me at jane.doe@example.com.")]},
        _config("pii"),
        context={"user_id": user},
    )
    stored = await _memories(services, services.settings.tenant_id, user)
    assert any("arrived damaged" in content for content in stored)
    assert all("jane.doe@example.com" not in content for content in stored)
    assert "jane.doe@example.com" not in model.seen[0][-1].text


async def test_handoff_pauses_in_the_hitl_schema_and_resuming_twice_opens_one_ticket(
    services: Services, user: str
) -> None:
    model = scripted(
        call("escalate_to_human", ESCALATE, "call-escalate"),
        AIMessage("Sam from support says: we will replace the chair."),
        AIMessage("Sam from support says: a courier comes tomorrow."),
    )
    saver = InMemorySaver()
    agent = build_agent(services, model, checkpointer=saver)
    config = _config(f"handoff-{user}")
    paused = await agent.ainvoke(
        {"messages": [("user", "I want to talk to a real person.")]},
        config,
        context={"user_id": user},
    )
    [pending] = paused["__interrupt__"]
    request = TypeAdapter(HITLRequest).validate_python(pending.value)
    [action] = request["action_requests"]
    assert action["name"] == "escalate_to_human"
    ticket = action["args"]["ticket"]
    assert ticket["created"] is True
    handoff = action["args"]["handoff"]
    assert handoff["summary"] == ESCALATE["summary"]
    assert handoff["customer"]["ref"] == user
    assert request["review_configs"][0]["allowed_decisions"] == ["respond", "approve", "reject"]

    answer = {"decisions": [{"type": "respond", "message": "We will replace the chair."}]}
    done = await agent.ainvoke(Command(resume=answer), config, context={"user_id": user})
    [result] = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    outcome = json.loads(result.text)
    assert outcome["status"] == "answered"
    assert outcome["human_reply"] == "We will replace the chair."
    assert outcome["ticket_id"] == ticket["ticket_id"]

    # Time travel: replay from the checkpoint before the tool ran, and resume again.
    history = [s async for s in agent.aget_state_history(config)]
    before_tools = next(s for s in history if s.next == ("tools",))
    replayed = await agent.ainvoke(None, before_tools.config, context={"user_id": user})
    [again] = replayed["__interrupt__"]
    replayed_ticket = again.value["action_requests"][0]["args"]["ticket"]
    assert replayed_ticket["ticket_id"] == ticket["ticket_id"]
    assert replayed_ticket["created"] is False
    answer = {"decisions": [{"type": "respond", "message": "A courier comes tomorrow."}]}
    await agent.ainvoke(Command(resume=answer), config, context={"user_id": user})
    [only] = await services.escalation.store.afor_customer(services.settings.tenant_id, user)
    assert only.id == ticket["ticket_id"]
    events = services.escalation.store.events(services.settings.tenant_id, only.id)
    replies = [event["detail"]["reply"] for event in events if event["kind"] == "human_reply"]
    assert replies == ["We will replace the chair."]


async def test_handoff_renders_through_the_agent_inbox_adapter(
    services: Services, user: str
) -> None:
    model = scripted(
        call("escalate_to_human", ESCALATE, "call-inbox"), AIMessage("A person will reply.")
    )
    agent = build_agent(services, model, checkpointer=InMemorySaver(), schema="agent_inbox")
    config = _config(f"inbox-{user}")
    paused = await agent.ainvoke(
        {"messages": [("user", "Get me a human please.")]}, config, context={"user_id": user}
    )
    [pending] = paused["__interrupt__"]
    [item] = TypeAdapter(list[HumanInterrupt]).validate_python(pending.value)
    assert item["action_request"]["action"] == "escalate_to_human"
    assert item["config"] == {
        "allow_ignore": True,
        "allow_respond": True,
        "allow_edit": False,
        "allow_accept": True,
    }
    assert item["action_request"]["args"]["ticket"]["ticket_id"] in item["description"]
    done = await agent.ainvoke(
        Command(resume=[{"type": "accept", "args": None}]), config, context={"user_id": user}
    )
    [result] = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    assert json.loads(result.text)["status"] == "queued"


async def test_an_unreadable_resume_asks_again_with_a_structured_error(
    services: Services, user: str
) -> None:
    model = scripted(call("escalate_to_human", ESCALATE, "call-bad"), AIMessage("Done."))
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    config = _config(f"bad-{user}")
    await agent.ainvoke(
        {"messages": [("user", "A human, please.")]}, config, context={"user_id": user}
    )
    asked = await agent.ainvoke(
        Command(resume={"decisions": [{"type": "edit"}]}), config, context={"user_id": user}
    )
    [pending] = asked["__interrupt__"]
    assert pending.value["error"]["code"] == "invalid_input"
    assert pending.value["error"]["retryable"] is False
    done = await agent.ainvoke(Command(resume="On it."), config, context={"user_id": user})
    [result] = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    assert json.loads(result.text)["human_reply"] == "On it."
    [ticket] = await services.escalation.store.afor_customer(services.settings.tenant_id, user)
    events = services.escalation.store.events(services.settings.tenant_id, ticket.id)
    replies = [event for event in events if event["kind"] == "human_reply"]
    assert [reply["detail"]["reply"] for reply in replies] == ["On it."]


async def test_staff_answering_from_their_inbox_resume_the_same_ticket(
    services: Services, user: str
) -> None:
    model = scripted(call("escalate_to_human", ESCALATE, "call-staff"), AIMessage("Relayed."))
    agent = build_agent(services, model, checkpointer=InMemorySaver(), schema="agent_inbox")
    config = _config(f"staff-{user}")
    await agent.ainvoke(
        {"messages": [("user", "I need a person.")]}, config, context={"user_id": user}
    )
    staff = {"user_id": "staff_sam", "role": "agent"}
    done = await agent.ainvoke(
        Command(resume=[{"type": "response", "args": "Hi, Sam here."}]), config, context=staff
    )
    [result] = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    assert json.loads(result.text)["human_reply"] == "Hi, Sam here."
    [ticket] = await services.escalation.store.afor_customer(services.settings.tenant_id, user)
    assert ticket.id == json.loads(result.text)["ticket_id"]
    assert (
        await services.escalation.store.afor_customer(services.settings.tenant_id, "staff_sam")
        == []
    )
    # Staff's words are not the customer's facts: nothing is remembered for either.
    assert await _memories(services, services.settings.tenant_id, "staff_sam") == []


async def test_the_sync_api_recalls_remembers_and_hands_off(services: Services, user: str) -> None:
    """``agent.invoke`` (what sync LangChain code calls) runs the same middleware."""
    model = scripted(
        AIMessage("Noted."),
        call("escalate_to_human", ESCALATE, "call-sync"),
        AIMessage("Relayed."),
    )
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    context = {"user_id": user}
    await asyncio.to_thread(
        agent.invoke,
        {"messages": [("user", "I prefer to be contacted by email only.")]},
        _config(f"sync-a-{user}"),
        context=context,
    )
    config = _config(f"sync-b-{user}")
    paused = await asyncio.to_thread(
        agent.invoke,
        {"messages": [("user", "Contact me by email: I want a person.")]},
        config,
        context=context,
    )
    assert "contacted by email only" in model.seen[1][0].text
    [pending] = paused["__interrupt__"]
    ticket = pending.value["action_requests"][0]["args"]["ticket"]
    done = await asyncio.to_thread(
        agent.invoke, Command(resume="Sam here, I'll call."), config, context=context
    )
    [result] = [m for m in done["messages"] if isinstance(m, ToolMessage)]
    assert json.loads(result.text)["ticket_id"] == ticket["ticket_id"]
    [only] = await services.escalation.store.afor_customer(services.settings.tenant_id, user)
    assert only.id == ticket["ticket_id"]


async def test_two_concurrent_resumes_open_one_ticket_and_record_one_reply(
    services: Services, user: str
) -> None:
    model = scripted(
        call("escalate_to_human", ESCALATE, "call-race"),
        AIMessage("Relayed."),
        AIMessage("Relayed."),
    )
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    config = _config(f"race-{user}")
    await agent.ainvoke(
        {"messages": [("user", "A person, now.")]}, config, context={"user_id": user}
    )
    await asyncio.gather(
        *(
            agent.ainvoke(Command(resume=text), config, context={"user_id": user})
            for text in ("First answer.", "Second answer.")
        )
    )
    [ticket] = await services.escalation.store.afor_customer(services.settings.tenant_id, user)
    events = services.escalation.store.events(services.settings.tenant_id, ticket.id)
    assert len([event for event in events if event["kind"] == "human_reply"]) == 1


async def test_a_correction_in_a_later_thread_supersedes_as_in_the_graph(
    services: Services, user: str
) -> None:
    model = scripted(AIMessage("Noted."), AIMessage("Updated."))
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    for thread, text in (
        ("before", "Please only contact me by email, never by phone."),
        ("after", "Actually, phone calls are fine now, call me on 503-555-0147"),
    ):
        await agent.ainvoke(
            {"messages": [("user", text)]}, _config(f"{thread}-{user}"), context={"user_id": user}
        )
    exported = await services.memory.aexport(services.settings.tenant_id, user)
    live = [m["content"] for m in exported["memories"] if m["state"] == "live"]
    assert not any("never by phone" in text for text in live)
    assert any("phone calls are fine now" in text for text in live)
    assert "Phone number: 5035550147" in live
