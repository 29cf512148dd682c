"""The nodes of one support turn: guard → recall → triage → (escalate | retrieve → respond ⇄
tools) → remember.

Each node catches the tool pack's ``ToolError`` (what the resilience decorator turns every
dependency failure into) and degrades: the dependency is named in ``degraded`` and the turn
goes on with less, so a customer never sees a stack trace. ``GraphBubbleUp`` (interrupts)
is never caught here. Storage writes carry idempotency keys derived from the thread and the
customer's message id, because LangGraph re-runs an interrupted node from its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool

# LangGraph's own node wrapper (ToolNode subclasses it): the one way to give a node both a
# sync and an async function with the usual runtime/config injection.
from langgraph._internal._runnable import RunnableCallable
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs.support import prompts
from graphs.support.context import Context, run_context, thread_id
from graphs.support.facts import ORDER_ID, Fact, extract_facts
from graphs.support.model import build_chat_model
from graphs.support.plan import Call, Plan, arun, run
from graphs.support.responder import compose_answer
from graphs.support.safety import injection_markers, sanitize
from graphs.support.state import State
from tools.crm.service import CRMService
from tools.errors import NotFoundError, RateLimitedError, ToolError, error_payload
from tools.escalation.detector import EscalationDetector
from tools.escalation.service import TICKET_REASONS

if TYPE_CHECKING:
    from agent.services import Services

logger = logging.getLogger(__name__)

NodeLogic = Callable[[State, Context, RunnableConfig], Plan]
CRITICAL_DEPENDENCIES = ("knowledge_base",)
_PER_TURN_RESET: dict[str, Any] = {
    "query_embedding": None,
    "flags": [],
    "degraded": [],
    "signals": [],
    "order_id": None,
    "memories": [],
    "passages": [],
    "order": None,
    "order_missing": None,
    "sources": [],
    "remembered": [],
    "tool_rounds": 0,
}
_PRIORITY_ORDER = ["low", "normal", "high", "urgent"]


def _tool_failure(exc: Exception) -> str:
    """ToolNode's handler for what a tool did not turn into a ToolMessage itself.

    A typed ``ToolError`` keeps its payload; any other exception is reported by type only,
    because its message may carry internals (SQL, URLs, customer data) the model must not see.
    """
    logger.warning("tool raised %s; returned to the model as an error", type(exc).__name__)
    if isinstance(exc, ToolError):
        payload = error_payload(exc)
    else:
        payload = ToolError(f"the tool failed unexpectedly ({type(exc).__name__})").to_dict()
    return json.dumps({"error": payload}, ensure_ascii=False)


class SupportNodes:
    """The node functions, bound to the process services (created lazily for ``langgraph dev``)."""

    def __init__(
        self,
        services: Services | None = None,
        chat_model: BaseChatModel | None = None,
        tools: Sequence[BaseTool] | None = None,
    ) -> None:
        self._services = services
        self._chat_model = chat_model
        self._tools = list(tools) if tools is not None else None
        self._models: dict[str, BaseChatModel] = {}
        self._tool_node: ToolNode | None = None
        self._escalation_detector: EscalationDetector | None = None
        self._crm_service: CRMService | None = None

    @property
    def services(self) -> Services:
        """The services; nodes call ``_services_ready`` first, so this never builds them."""
        if self._services is None:
            raise RuntimeError("services are not ready; a node must await _services_ready()")
        return self._services

    def _services_ready(self) -> Services:
        """Build the process-wide services on first use (``langgraph dev`` imports ``graph``)."""
        if self._services is None:
            from agent.services import get_services

            self._services = get_services()
        return self._services

    async def _aservices_ready(self) -> Services:
        """The same, off the event loop: building opens files and loads the model."""
        if self._services is None:
            await asyncio.to_thread(self._services_ready)
        return self.services

    def node(self, name: str) -> RunnableCallable:
        """The graph node ``name``: its logic runnable with ``invoke`` and ``ainvoke``."""
        logic: NodeLogic = getattr(self, f"_{name}")

        def sync(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict:
            services = self._services_ready()
            ctx = run_context(runtime, config)
            with self._caller(ctx, config):
                return run(logic(state, ctx, config), services.resilience)

        async def async_(state: State, runtime: Runtime[Context], config: RunnableConfig) -> dict:
            services = await self._aservices_ready()
            ctx = run_context(runtime, config)
            with self._caller(ctx, config):
                return await arun(logic(state, ctx, config), services.resilience)

        return RunnableCallable(sync, async_, name=name, trace=False)

    # -- helpers ---------------------------------------------------------------------------

    def _tenant(self, ctx: Context) -> str:
        return ctx.tenant_id or self.services.settings.tenant_id

    def _scope(self, ctx: Context) -> Any:
        from storage.memory import Scope

        return Scope(tenant_id=self._tenant(ctx), user_id=ctx.user_id)

    @contextlib.contextmanager
    def _caller(self, ctx: Context, config: RunnableConfig) -> Iterator[None]:
        """Rate limits and metrics see who is calling (tenant, user, session)."""
        from tools.resilience import call_scope

        with call_scope(self._tenant(ctx), ctx.user_id, thread_id(config)):
            yield

    def _model_name(self, ctx: Context) -> str | None:
        if self._chat_model is not None:
            return "injected"
        return ctx.model or self.services.settings.llm.model or None

    def _model(self, name: str) -> BaseChatModel:
        if self._chat_model is not None:
            return self._chat_model
        if name not in self._models:
            self._models[name] = build_chat_model(self.services.settings.llm, name)
        return self._models[name]

    # -- guard -----------------------------------------------------------------------------

    def _guard(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        update = yield from self._screen(state, ctx)
        # Only what changes is written: each written key is a checkpoint write of its own.
        return {k: v for k, v in update.items() if k == "messages" or state.get(k, ...) != v}

    def _screen(self, state: State, ctx: Context) -> Plan:
        last = state["messages"][-1] if state.get("messages") else None
        reset = {**_PER_TURN_RESET, "turn_id": getattr(last, "id", None) or "", "query": ""}
        if not isinstance(last, HumanMessage):
            return self._reject(reset, "empty")
        text = sanitize(last.text)
        if not text:
            only_media = isinstance(last.content, list) and bool(last.content) and not last.text
            return self._reject(reset, "not_text" if only_media else "empty")
        if len(text) > ctx.max_message_chars:
            return self._reject(reset, "too_long", length=len(text), limit=ctx.max_message_chars)
        try:
            yield Call("conversation", "admit", _admit, _aadmit, retry=False)
        except RateLimitedError as exc:
            return self._reject(reset, "rate_limited", retry_after=int(exc.retry_after_s or 1))
        except ToolError as exc:
            logger.warning("session rate limit unavailable (%s); turn admitted", exc.code)
        flags = [f"message:{marker}" for marker in injection_markers(text)]
        return {**reset, "query": text, "flags": flags, "intent": "question"}

    @staticmethod
    def _reject(reset: dict[str, Any], reason: str, **values: Any) -> dict[str, Any]:
        reply = prompts.REJECTED[reason].format(**values)
        return {
            **reset,
            "intent": "rejected",
            "flags": [f"rejected:{reason}"],
            "messages": [AIMessage(reply, name="guard")],
        }

    # -- recall ----------------------------------------------------------------------------

    def _recall(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        services, query = self.services, state["query"]
        degraded: list[str] = []
        vector: list[float] | None = None
        memories: list[dict[str, Any]] = []
        embeddings, memory = services.embeddings, services.memory
        try:
            vector = yield Call(
                "embeddings",
                "embed_query",
                embeddings.embed_query,
                embeddings.aembed_query,
                (query,),
            )
        except ToolError as exc:
            logger.warning("query embedding failed (%s)", exc.code)
            degraded.append("embeddings")
        if vector is not None:
            try:
                recalled = yield Call(
                    "memory",
                    "recall",
                    memory.recall,
                    memory.arecall,
                    (self._scope(ctx), query),
                    {"limit": ctx.recall_k, "query_embedding": vector},
                )
                memories = [
                    {
                        "id": item.memory.id,
                        "content": item.memory.content,
                        "content_type": item.memory.content_type,
                        "score": round(float(item.score), 4),
                    }
                    for item in recalled
                    if item.score >= ctx.min_memory_score
                ]
            except ToolError as exc:
                logger.warning("memory recall failed (%s)", exc.code)
                degraded.append("memory")
        return {"query_embedding": vector, "memories": memories, "degraded": degraded}

    # -- triage ----------------------------------------------------------------------------

    def _triage(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        services = self.services
        query = state["query"]
        order = ORDER_ID.search(query)
        model = self._model_name(ctx) is not None
        needed = {*CRITICAL_DEPENDENCIES, *(["crm"] if order else []), *(["llm"] if model else [])}
        states = {dep: services.resilience.breaker_state(dep) for dep in sorted(needed)}
        unavailable = [dep for dep, breaker in states.items() if breaker == "open"]
        detected = self._detector(services).detect(
            query,
            state["messages"][:-1],
            breaker_states=states,
            failed_turns=state.get("unresolved_turns", 0),
        )
        signals = [asdict(signal) for signal in detected]
        critical = "crm" if order is not None else "knowledge_base"
        if signals and ctx.escalation_policy != "never":
            intent = "escalate"
        elif critical in unavailable:
            intent = "unavailable"
        else:
            intent = "order" if order is not None else "question"
        return {
            "intent": intent,
            "signals": signals,
            "order_id": order.group(0).upper() if order else None,
            "degraded": [*state.get("degraded", []), *unavailable],
        }
        yield  # a plan without calls

    def _detector(self, services: Services) -> EscalationDetector:
        if self._escalation_detector is None:
            self._escalation_detector = EscalationDetector(services.settings.escalation)
        return self._escalation_detector

    # -- escalate --------------------------------------------------------------------------

    def _escalate(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        escalation_service = self.services.escalation
        signals = state.get("signals", [])
        kind = signals[0]["kind"] if signals else "customer_request"
        reason = kind if kind in TICKET_REASONS else "other"
        levels = [_PRIORITY_ORDER.index(s.get("priority", "normal")) for s in signals]
        request = {
            "tenant_id": self._tenant(ctx),
            "customer_ref": ctx.user_id,
            "conversation_ref": thread_id(config),
            "idempotency_key": f"turn:{thread_id(config)}:{state['turn_id']}",
            "reason": reason,
            "summary": state["query"][:1000],
            "priority": _PRIORITY_ORDER[max(levels, default=1)],
            "evidence": [s["reason"][:200] for s in signals][:10],
        }
        try:
            result = yield Call(
                "tickets",
                "escalate_to_human",
                escalation_service.escalate,
                escalation_service.aescalate,
                kwargs=request,
            )
        except ToolError as exc:
            logger.error("escalation failed (%s)", exc.code)
            return {
                "messages": [AIMessage(prompts.ESCALATION_FAILED, name="escalation")],
                "escalation": {"reason": reason, "signals": signals, "status": "failed"},
                "degraded": [*state.get("degraded", []), "tickets"],
                "unresolved_turns": state.get("unresolved_turns", 0) + 1,
            }
        ticket = result.ticket
        escalation = {
            "ticket_id": ticket.id,
            "created": result.created,
            "reason": reason,
            "priority": ticket.priority,
            "sla_due_at": ticket.sla_due_at.isoformat(timespec="minutes"),
            "signals": signals,
        }
        if ctx.escalation_policy == "ticket_only":
            reply = prompts.TICKET_ONLY.format(
                ticket_id=ticket.id, priority=ticket.priority, due=escalation["sla_due_at"]
            )
            return {
                "messages": [AIMessage(reply, name="escalation")],
                "escalation": {**escalation, "status": "ticket_only"},
            }
        human = self._await_human(self._handoff_packet(state, ctx, escalation))
        try:
            yield Call(
                "tickets",
                "record_reply",
                escalation_service.record_reply,
                escalation_service.arecord_reply,
                (self._tenant(ctx), ticket.id, human["reply"]),
                {"agent": human.get("agent")},
            )
        except ToolError as exc:
            logger.error("human reply not recorded on the ticket (%s)", exc.code)
        return {
            "messages": [AIMessage(human["reply"], name="human_agent")],
            "escalation": {**escalation, "status": "answered", "human_reply": human["reply"]},
            "unresolved_turns": 0,
        }

    @staticmethod
    def _await_human(packet: dict[str, Any]) -> dict[str, Any]:
        """Pause for the person's reply; anything but a non-empty text asks again."""
        answer: Any = interrupt(packet)
        while True:
            if isinstance(answer, str) and answer.strip():
                return {"reply": answer.strip()}
            if isinstance(answer, Mapping) and str(answer.get("reply", "")).strip():
                return {"reply": str(answer["reply"]).strip(), "agent": answer.get("agent")}
            answer = interrupt({**packet, "error": "resume with a non-empty reply text"})

    @staticmethod
    def _handoff_packet(state: State, ctx: Context, escalation: dict[str, Any]) -> dict[str, Any]:
        """What the person sees in Studio (or the chat) when the run pauses."""
        transcript = [
            {"role": message.type, "text": message.text[:1000]}
            for message in state["messages"][-10:]
        ]
        return {
            "type": "human_handoff",
            **escalation,
            "customer": ctx.user_id,
            "summary": state["query"][:500],
            "memories": [m["content"] for m in state.get("memories", [])],
            "transcript": transcript,
            "resume_with": {"reply": "text the customer will see", "agent": "optional name"},
        }

    # -- retrieve --------------------------------------------------------------------------

    def _retrieve(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        kb = self.services.knowledge_base
        degraded = list(state.get("degraded", []))
        flags = list(state.get("flags", []))
        passages: list[dict[str, Any]] = []
        update: dict[str, Any] = {}
        try:
            results = yield Call(
                None,
                "search",
                kb.search,
                kb.asearch,
                (state["query"], ctx.kb_k),
                {"query_embedding": state.get("query_embedding")},
            )
        except ToolError as exc:
            logger.warning("knowledge-base search failed (%s)", exc.code)
            degraded.append("knowledge_base")
            results = []
        for result in results:
            markers = injection_markers(result.chunk)
            if markers:
                flags.extend(f"passage:{result.source}:{marker}" for marker in markers)
                continue
            passages.append(
                {
                    "title": result.title,
                    "source": result.source,
                    "chunk": result.chunk_index,
                    "content": result.chunk,
                    "score": float(result.score),
                }
            )
        if state.get("order_id"):
            update = yield from self._order(state["order_id"], ctx, degraded)
        return {**update, "passages": passages, "flags": flags, "degraded": degraded}

    def _order(self, order_id: str, ctx: Context, degraded: list[str]) -> Plan:
        """The order, only if it is this customer's: an order number is not a password."""
        crm = self._crm()
        try:
            order = yield Call(
                None,
                "get_order",
                crm.get_order,
                crm.aget_order,
                (self._tenant(ctx), order_id),
                {"customer_id": ctx.user_id},
            )
        except NotFoundError:
            return {"order": None, "order_missing": order_id}
        except ToolError as exc:
            logger.warning("order lookup failed (%s)", exc.code)
            degraded.append("crm")
            return {"order": None}
        return {"order": order}

    def _crm(self) -> CRMService:
        """Guarded, masked CRM reads (the same service the CRM tools use)."""
        if self._crm_service is None:
            services = self.services
            self._crm_service = CRMService(
                services.crm, services.resilience, max_results=services.settings.crm.max_results
            )
        return self._crm_service

    # -- respond ---------------------------------------------------------------------------

    def _respond(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        if state.get("intent") == "unavailable":
            dependency = ", ".join(d for d in state.get("degraded", []) if d) or "a dependency"
            reply = prompts.UNAVAILABLE.format(dependency=dependency)
            return {
                "messages": [AIMessage(reply, name="assistant")],
                "unresolved_turns": state.get("unresolved_turns", 0) + 1,
            }
        answer = compose_answer(
            state["query"],
            state.get("passages", []),
            memories=state.get("memories", []),
            order=state.get("order"),
            order_missing=state.get("order_missing"),
            unavailable=state.get("degraded", []),
            stated=[fact.content for fact in self._facts(state)],
            min_score=ctx.min_kb_score,
        )
        resolved = {
            "sources": answer.sources,
            "unresolved_turns": 0 if answer.answered else state.get("unresolved_turns", 0) + 1,
        }
        name = self._model_name(ctx)
        if name is None:
            return {**resolved, "messages": [AIMessage(answer.text, name="assistant")]}
        runnable = self._chat_runnable(state, ctx, name)
        try:
            reply = yield Call(
                "llm", "chat", runnable.invoke, runnable.ainvoke, (self._prompt(state),)
            )
        except ToolError as exc:
            logger.error("chat model failed (%s); answering offline", exc.code)
            fallback = answer.text if answer.answered else prompts.MODEL_FAILED
            return {
                **resolved,
                "messages": [AIMessage(fallback, name="assistant")],
                "degraded": [*state.get("degraded", []), "llm"],
            }
        if not isinstance(reply, AIMessage):
            reply = AIMessage(str(reply.content))
        rounds = state.get("tool_rounds", 0)
        if reply.tool_calls and rounds >= ctx.max_tool_rounds:
            logger.warning("model asked for tools past max_tool_rounds; answering offline")
            reply = AIMessage(answer.text if answer.answered else prompts.MODEL_FAILED)
        rounds += 1 if reply.tool_calls else 0
        return {**resolved, "messages": [reply], "tool_rounds": rounds}

    def _chat_runnable(self, state: State, ctx: Context, name: str) -> Any:
        """The model, with the tools bound while tool rounds remain this turn."""
        model = self._model(name)
        if state.get("tool_rounds", 0) >= ctx.max_tool_rounds:
            return model
        try:
            return model.bind_tools(self._model_tools())
        except NotImplementedError:
            return model

    @staticmethod
    def _prompt(state: State) -> list[AnyMessage]:
        system = SystemMessage(
            prompts.SYSTEM_PROMPT.format(
                data=prompts.render_data(
                    state.get("passages", []), state.get("memories", []), state.get("order")
                ),
                flagged=prompts.FLAGGED_NOTE if _flagged(state) else "",
            )
        )
        return [system, *state["messages"]]

    def _model_tools(self) -> list[BaseTool]:
        """The tools given to the model: the ones passed in, else the registry's available ones."""
        return self._tools if self._tools is not None else self.services.registry.tools

    # -- tools -----------------------------------------------------------------------------

    def tools_node(self) -> RunnableCallable:
        """LangGraph's ToolNode over the model's tools, with the turn's embedding passed on."""

        def sync(state: State, config: RunnableConfig) -> dict:
            self._services_ready()
            return self._tool_runner().invoke(state, self._tool_config(state, config))

        async def async_(state: State, config: RunnableConfig) -> dict:
            await self._aservices_ready()
            return await self._tool_runner().ainvoke(state, self._tool_config(state, config))

        return RunnableCallable(sync, async_, name="tools", trace=False)

    def _tool_runner(self) -> ToolNode:
        if self._tool_node is None:
            self._tool_node = ToolNode(self._model_tools(), handle_tool_errors=_tool_failure)
        return self._tool_node

    @staticmethod
    def _tool_config(state: State, config: RunnableConfig) -> RunnableConfig:
        """Tools searching with the customer's own words reuse the vector computed in recall."""
        configurable = dict(config.get("configurable") or {})
        vector = state.get("query_embedding")
        if vector is not None:
            configurable["turn_embedding"] = {"text": state["query"], "vector": vector}
        return {**config, "configurable": configurable}

    @staticmethod
    def _facts(state: State) -> list[Fact]:
        """Durable facts of the message; none from a flagged one (memory poisoning)."""
        return [] if _flagged(state) else extract_facts(state["query"])

    # -- remember --------------------------------------------------------------------------

    def _remember(self, state: State, ctx: Context, config: RunnableConfig) -> Plan:
        memory = self.services.memory
        remembered: list[dict[str, Any]] = []
        degraded = list(state.get("degraded", []))
        for fact in self._facts(state):
            try:
                result = yield Call(
                    "memory",
                    "remember",
                    memory.remember,
                    memory.aremember,
                    (self._scope(ctx), fact.content),
                    {
                        "content_type": fact.content_type,
                        "importance": fact.importance,
                        "metadata": {"source": "conversation", "thread": thread_id(config)},
                    },
                )
            except ToolError as exc:
                logger.warning("remember failed (%s)", exc.code)
                degraded.append("memory")
                break
            remembered.append(
                {
                    "content": fact.content,
                    "content_type": fact.content_type,
                    "memory_id": result.memory.id,
                    "deduped": result.deduped,
                }
            )
        return {"remembered": remembered, "degraded": degraded}


def _admit() -> None:
    """The no-op a turn passes through so the session rate limit applies to it."""


async def _aadmit() -> None:
    """Async twin of ``_admit``."""


def _flagged(state: State) -> bool:
    return any(flag.startswith("message:") for flag in state.get("flags", []))


def route_after_guard(state: State) -> Literal["recall", "__end__"]:
    return "__end__" if state.get("intent") == "rejected" else "recall"


def route_after_triage(state: State) -> Literal["escalate", "retrieve", "respond"]:
    intent = state.get("intent")
    if intent == "escalate":
        return "escalate"
    if intent == "unavailable":
        return "respond"
    return "retrieve"


def route_after_respond(state: State) -> Literal["tools", "remember"]:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "remember"
