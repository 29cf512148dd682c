"""The graph ``langgraph dev`` and the LangGraph server serve (``langgraph.json``).

It is ``graph.graph`` with the run telemetry attached (a span, metrics and log correlation
ids per turn, node, tool and model call), kept apart from ``graph.py`` so building the
graph and observing it stay separate concerns.
"""

from agent.run_telemetry import telemetry_callbacks
from graphs.support.graph import graph as compiled

graph = compiled.with_config(callbacks=telemetry_callbacks())
