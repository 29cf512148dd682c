"""The pack as LangChain v1 ``create_agent`` middleware (the ``langchain`` extra).

- ``ResilienceMiddleware``: model calls and your own tools through ``Resilience.guard``;
  failures come back as structured messages, interrupts pass through.
- ``MemoryMiddleware``: the customer's memories in the model's context; their durable
  facts remembered after the turn.
- ``EscalationMiddleware``: ``escalate_to_human`` opens a ticket and pauses for a person
  in LangChain's HITL schema (or Agent Inbox's: ``to_agent_inbox``).

Install with ``pip install "support-agent[langchain]"``; ``graphs/middleware_agent.py``
puts them together with the pack's tools.
"""

from tools.middleware.escalation import EscalationMiddleware
from tools.middleware.handoff import (
    HandoffDecision,
    InboxInterrupt,
    handoff_request,
    read_decision,
    to_agent_inbox,
)
from tools.middleware.memory import MemoryMiddleware
from tools.middleware.resilience import UNAVAILABLE_REPLY, ResilienceMiddleware

__all__ = [
    "UNAVAILABLE_REPLY",
    "EscalationMiddleware",
    "HandoffDecision",
    "InboxInterrupt",
    "MemoryMiddleware",
    "ResilienceMiddleware",
    "handoff_request",
    "read_decision",
    "to_agent_inbox",
]
