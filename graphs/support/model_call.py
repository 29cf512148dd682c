"""One turn of the chat model: a usable reply, one repair attempt, or "answer offline".

The respond node calls ``acall_model`` (or ``call_model``) with the guarded model call.
Why a module of its own: what the model sends back is untrusted input. Local models often
send tool-call arguments that are not JSON, or call a tool that does not exist; LangGraph's
ToolNode skips the first (the turn ends with an empty reply) and answers the second with
free text. Here both become structured errors (``code``, ``message``, ``retryable``) in
``ToolMessage``s the model can act on, and the model gets one attempt to correct itself.
When the model is unavailable (breaker open, timeout, server error) or its output is still
unusable, the outcome has no reply and names why: the node answers offline, marks the turn
``degraded`` and escalates only if the offline responder cannot answer either.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from tools.errors import InvalidInputError, NotFoundError, ToolError

INVALID_OUTPUT = "invalid_output"
EMPTY_REPLY_NUDGE = (
    "Your last reply was empty. Answer the customer's last message, or call one of the tools."
)


@dataclass(frozen=True)
class ModelOutcome:
    """``reply`` is the model's usable answer (text or valid tool calls); None means
    "answer offline", with ``failure`` the error code that says why. ``messages`` is
    what to append to the conversation: the reply, preceded by the corrected exchange
    when a repair was needed (never the failed exchange when the outcome is offline)."""

    reply: AIMessage | None
    messages: list[BaseMessage] = field(default_factory=list)
    failure: str | None = None
    repaired: bool = False


def problems(reply: AIMessage, tool_names: Collection[str]) -> list[ToolMessage] | None:
    """The structured error for every tool call of an unusable reply; None if usable.

    A reply is unusable when a tool call's arguments are not a JSON object, a call names
    a tool that is not offered, or it has neither text nor tool calls. The errors answer
    every call of the reply (the API requires each tool call to be answered), and never
    quote the arguments back (they may hold a customer's data).
    """
    calls = [(c["id"], c["name"], None) for c in reply.tool_calls]
    calls += [
        (c["id"], c["name"] or "", c["error"] or "not JSON") for c in reply.invalid_tool_calls
    ]
    if not calls:
        return None if reply.text.strip() else []
    errors: list[ToolError | None] = []
    for _, name, invalid in calls:
        if invalid is not None:
            errors.append(
                InvalidInputError(
                    f"the arguments of {name or 'this call'} are not a valid JSON object; "
                    "call it again with JSON arguments that match its schema",
                    retryable=True,
                )
            )
        elif name not in tool_names:
            errors.append(
                NotFoundError(
                    f"there is no tool named {name[:64]!r}; available: {', '.join(sorted(tool_names))}",
                    retryable=True,
                )
            )
        else:
            errors.append(None)
    if all(error is None for error in errors):
        return None
    skipped = InvalidInputError(
        "not run: another call in the same reply was invalid; call it again", retryable=True
    )
    return [
        ToolMessage(
            json.dumps({"error": (error or skipped).to_dict()}, ensure_ascii=False),
            tool_call_id=call_id or f"invalid_{index}",
            name=name or "invalid",
            status="error",
        )
        for index, ((call_id, name, _), error) in enumerate(zip(calls, errors, strict=True))
    ]


def _as_ai(reply: BaseMessage) -> AIMessage:
    return reply if isinstance(reply, AIMessage) else AIMessage(str(reply.content))


def _repair_prompt(
    prompt: Sequence[BaseMessage], reply: AIMessage, errors: list[ToolMessage]
) -> list[BaseMessage]:
    if errors:
        return [*prompt, reply, *errors]
    return [*prompt, HumanMessage(EMPTY_REPLY_NUDGE)]


def _judge(
    first: AIMessage,
    errors: list[ToolMessage],
    second: AIMessage,
    tool_names: Collection[str],
) -> ModelOutcome:
    if problems(second, tool_names) is not None:
        return ModelOutcome(None, failure=INVALID_OUTPUT)
    exchange: list[BaseMessage] = [first, *errors] if errors else []
    return ModelOutcome(second, [*exchange, second], repaired=True)


async def acall_model(
    invoke: Callable[[list[BaseMessage]], Awaitable[BaseMessage]],
    prompt: Sequence[BaseMessage],
    tool_names: Collection[str],
    *,
    repair: bool = True,
) -> ModelOutcome:
    """Call the model (``invoke`` is the resilience-guarded call); repair once if needed.

    ``repair=False`` when the turn has no tool round left: an unusable reply then goes
    straight to the offline answer.
    """
    try:
        reply = _as_ai(await invoke(list(prompt)))
        errors = problems(reply, tool_names)
        if errors is None:
            return ModelOutcome(reply, [reply])
        if not repair:
            return ModelOutcome(None, failure=INVALID_OUTPUT)
        second = _as_ai(await invoke(_repair_prompt(prompt, reply, errors)))
    except ToolError as exc:
        return ModelOutcome(None, failure=exc.code)
    return _judge(reply, errors, second, tool_names)


def call_model(
    invoke: Callable[[list[BaseMessage]], BaseMessage],
    prompt: Sequence[BaseMessage],
    tool_names: Collection[str],
    *,
    repair: bool = True,
) -> ModelOutcome:
    """The sync twin of ``acall_model``."""
    try:
        reply = _as_ai(invoke(list(prompt)))
        errors = problems(reply, tool_names)
        if errors is None:
            return ModelOutcome(reply, [reply])
        if not repair:
            return ModelOutcome(None, failure=INVALID_OUTPUT)
        second = _as_ai(invoke(_repair_prompt(prompt, reply, errors)))
    except ToolError as exc:
        return ModelOutcome(None, failure=exc.code)
    return _judge(reply, errors, second, tool_names)
