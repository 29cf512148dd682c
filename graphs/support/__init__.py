"""The customer-support agent graph (see ``graph.py``)."""

from graphs.support.context import Context
from graphs.support.graph import aopen_checkpointer, build_graph
from graphs.support.state import InputState, OutputState, State

__all__ = [
    "Context",
    "InputState",
    "OutputState",
    "State",
    "aopen_checkpointer",
    "build_graph",
]
