"""The product's Prometheus series: turns, nodes, tools, model calls, escalations, sweeps.

They share the product's ``REGISTRY`` (``storage.metrics``, served at ``/support/metrics``
under the LangGraph server and ``/metrics`` standalone), never the process default registry, so the
host's own metrics and ours cannot clash. Labels are bounded sets (node, tool, dependency,
model, outcome, reason); never a tenant, user or thread, which would grow without limit.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from storage.metrics import REGISTRY

# Turns last seconds (a model round trip); nodes, tools and dependencies milliseconds.
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

TURN_SECONDS = Histogram(
    "support_turn_seconds",
    "Graph runs (one customer turn or resume), by outcome: answered, escalated, error.",
    ["outcome"],
    buckets=TURN_BUCKETS,
    registry=REGISTRY,
)
NODE_SECONDS = Histogram(
    "support_node_seconds",
    "Graph node executions, by node and outcome (ok, error).",
    ["node", "outcome"],
    buckets=STEP_BUCKETS,
    registry=REGISTRY,
)
TOOL_SECONDS = Histogram(
    "support_tool_seconds",
    "Tool calls, by tool and outcome (ok or the error code).",
    ["tool", "outcome"],
    buckets=STEP_BUCKETS,
    registry=REGISTRY,
)
MODEL_SECONDS = Histogram(
    "support_model_seconds",
    "Chat model calls, by model and outcome (ok, error).",
    ["model", "outcome"],
    buckets=TURN_BUCKETS,
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "support_model_tokens",
    "Tokens reported by the chat model, by model and type (input, output).",
    ["model", "type"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "support_escalations",
    "New tickets handed to a person, by reason.",
    ["reason"],
    registry=REGISTRY,
)
SWEEPS = Counter(
    "support_sweeps",
    "Scheduled sweeps, by outcome: done, skipped (another worker held the lock), error.",
    ["outcome"],
    registry=REGISTRY,
)
LAST_SWEEP = Gauge(
    "support_last_sweep_timestamp_seconds",
    "Unix time of this process's last completed sweep (0: none yet).",
    registry=REGISTRY,
)
